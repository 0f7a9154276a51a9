//! One `UPDATE` for many rows, each with values of its own: the statement
//! behind the store's group commit (`batch.rs`).
//!
//! PostgreSQL takes every row's values in one JSON parameter, read back as a
//! table by `json_to_recordset`: the statement's text is the same whatever
//! the number of rows, so each connection parses and plans it once (a
//! `VALUES` list of 2,000 rows of ten parameters each took longer to plan
//! than to run). SQLite joins the table to a `VALUES` list named in a `WITH`
//! clause (`UPDATE … FROM v`, with `RETURNING` for the keys it touched);
//! MySQL and MariaDB, which have neither, join it to a derived table of
//! `SELECT ? … UNION ALL SELECT ? …` (a multi-table `UPDATE` that reads the
//! values first and the table's rows by key).

use std::fmt::Write as _;

use chrono::SecondsFormat;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

/// Most rows one multi-row statement takes where each value is a parameter
/// of its own (SQLite, MySQL): far under every backend's parameter limit.
pub(crate) const LARGEST_CHUNK: usize = 512;

/// `rows` split for multi-row statements whose text grows with their rows:
/// chunks of [`LARGEST_CHUNK`] rows, then one chunk per power of two in the
/// rest, largest first (1,300 rows: 512, 512, 256, 16, 4).
///
/// So a statement of any number of rows is made of at most ten texts, the
/// same from batch to batch, and each connection's statement cache keeps
/// them prepared. A text for each exact number of rows is a new statement
/// nearly every batch under a steady load (a batch takes what arrived):
/// the database parses and plans hundreds of rows' worth of SQL before it
/// runs it. Measured with `ruqi-bench throughput` at 100,000 jobs on
/// SQLite, the scheduler's batches (about 670 claims and 660 ends each)
/// prepared eight statements a batch, against two for the regular batches
/// of the same writes made back to back (see `docs/bench/profiles.md`).
pub(crate) fn in_chunks<T>(rows: Vec<T>) -> impl Iterator<Item = Vec<T>> {
    let mut left = rows.len();
    let mut rows = rows.into_iter();
    std::iter::from_fn(move || {
        let size = chunk_size(left)?;
        left -= size;
        Some(rows.by_ref().take(size).collect())
    })
}

/// The size of the next chunk of [`in_chunks`] when `left` rows are left;
/// `None` when none are.
fn chunk_size(left: usize) -> Option<usize> {
    match left {
        0 => None,
        n if n >= LARGEST_CHUNK => Some(LARGEST_CHUNK),
        n => Some(1 << n.ilog2()),
    }
}

/// The shape of a bulk update. In `set` and `filter`, `t.` names the
/// table's columns and `v.` the values given for each row; `values[0]` is
/// the value matched against `key`.
pub(crate) struct BulkUpdate {
    /// The table.
    pub(crate) table: &'static str,
    /// The column that identifies a row.
    pub(crate) key: &'static str,
    /// Names and PostgreSQL types of each row's values, the key's first.
    /// The names are prefixed with `v_` so that no name is also a column of
    /// the table (MySQL would find an unqualified name ambiguous).
    pub(crate) values: &'static [(&'static str, &'static str)],
    /// `(column, expression)` pairs. MySQL assigns left to right and lets a
    /// later expression see an earlier assignment, so no expression may read
    /// a column assigned before it.
    pub(crate) set: &'static [(&'static str, &'static str)],
    /// A condition each row must meet besides its key, if any.
    pub(crate) filter: Option<&'static str>,
}

impl BulkUpdate {
    /// The statement for `rows` rows of values (each `values.len()` long).
    /// With `returning`, PostgreSQL and SQLite return the key of each row
    /// updated; MySQL returns nothing either way.
    pub(crate) fn statement(&self, backend: DbBackend, rows: Vec<Vec<Value>>, returning: bool) -> Statement {
        let names: Vec<&str> = self.values.iter().map(|(name, _)| *name).collect();
        if backend == DbBackend::Postgres {
            let columns: Vec<String> = self.values.iter().map(|(name, ty)| format!("{name} {ty}")).collect();
            let source = format!("json_to_recordset($1::json) AS v({})", columns.join(", "));
            let returning = returning.then(|| format!("t.{}", self.key));
            let sql = self.update_from("", &source, returning.as_deref());
            return Statement::from_sql_and_values(backend, sql, [json_rows(&names, &rows).into()]);
        }
        let width = self.values.len();
        let row_sql = |r: usize, mysql: bool| {
            let cells: Vec<String> = (0..width)
                .map(|c| {
                    if mysql && r == 0 {
                        format!("? AS {}", names[c])
                    } else {
                        "?".to_owned()
                    }
                })
                .collect();
            cells.join(", ")
        };
        let count = rows.len();
        let mut sql = String::with_capacity(64 + count * width * 4);
        match backend {
            DbBackend::MySql => {
                let derived: Vec<String> = (0..count).map(|r| format!("SELECT {}", row_sql(r, true))).collect();
                let set: Vec<String> = self.set.iter().map(|(c, e)| format!("t.{c} = {e}")).collect();
                sql.push_str(&format!(
                    // The values first, then the table by its key: only the rows named are
                    // read (and locked), never a scan that would wait on rows others hold.
                    "UPDATE ({derived}) AS v STRAIGHT_JOIN {table} AS t ON t.{key} = v.{first} SET {set}",
                    table = self.table,
                    derived = derived.join(" UNION ALL "),
                    key = self.key,
                    first = names[0],
                    set = set.join(", "),
                ));
                if let Some(filter) = self.filter {
                    sql.push_str(&format!(" WHERE {filter}"));
                }
            }
            _ => {
                // SQLite. The key unqualified in `RETURNING`: SQLite does not take the alias there.
                let tuples: Vec<String> = (0..count).map(|r| format!("({})", row_sql(r, false))).collect();
                let prefix = format!("WITH v({}) AS (VALUES {}) ", names.join(", "), tuples.join(", "));
                sql = self.update_from(&prefix, "v", returning.then_some(self.key));
            }
        }
        Statement::from_sql_and_values(backend, sql, rows.into_iter().flatten())
    }

    /// `{prefix}UPDATE table AS t SET … FROM {source} WHERE t.key = v.first`,
    /// with the filter and `RETURNING {returning}`: the shape PostgreSQL and
    /// SQLite share.
    fn update_from(&self, prefix: &str, source: &str, returning: Option<&str>) -> String {
        let set: Vec<String> = self.set.iter().map(|(c, e)| format!("{c} = {e}")).collect();
        let mut sql = format!(
            "{prefix}UPDATE {table} AS t SET {set} FROM {source} WHERE t.{key} = v.{first}",
            table = self.table,
            set = set.join(", "),
            key = self.key,
            first = self.values[0].0,
        );
        if let Some(filter) = self.filter {
            sql.push_str(&format!(" AND {filter}"));
        }
        if let Some(returning) = returning {
            sql.push_str(&format!(" RETURNING {returning}"));
        }
        sql
    }

    /// Runs the update, as one statement on PostgreSQL and one per chunk
    /// ([`in_chunks`]) elsewhere; returns the keys of the rows it changed on
    /// PostgreSQL and SQLite, `None` on MySQL (which cannot say which) or
    /// when not `returning`.
    pub(crate) async fn run<C: ConnectionTrait>(
        &self,
        db: &C,
        rows: Vec<Vec<Value>>,
        returning: bool,
    ) -> Result<Option<Vec<String>>, DbErr> {
        if rows.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let backend = db.get_database_backend();
        if backend == DbBackend::Postgres {
            return self.run_one(db, backend, rows, returning).await;
        }
        let mut changed = Some(Vec::new());
        for chunk in in_chunks(rows) {
            match (self.run_one(db, backend, chunk, returning).await?, changed.as_mut()) {
                (Some(keys), Some(changed)) => changed.extend(keys),
                _ => changed = None,
            }
        }
        Ok(changed)
    }

    /// [`BulkUpdate::run`] as one statement.
    async fn run_one<C: ConnectionTrait>(
        &self,
        db: &C,
        backend: DbBackend,
        rows: Vec<Vec<Value>>,
        returning: bool,
    ) -> Result<Option<Vec<String>>, DbErr> {
        let statement = self.statement(backend, rows, returning);
        if backend == DbBackend::MySql || !returning {
            db.execute_raw(statement).await?;
            return Ok(None);
        }
        db.query_all_raw(statement)
            .await?
            .iter()
            .map(|row| row.try_get_by_index::<String>(0))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// `rows` as a JSON array of objects keyed by `names`, for PostgreSQL's
/// `json_to_recordset`.
pub(crate) fn json_rows(names: &[&str], rows: &[Vec<Value>]) -> String {
    let mut out = String::with_capacity(16 + rows.len() * names.len() * 24);
    out.push('[');
    for (r, row) in rows.iter().enumerate() {
        if r > 0 {
            out.push(',');
        }
        out.push('{');
        for (c, (name, value)) in names.iter().zip(row).enumerate() {
            if c > 0 {
                out.push(',');
            }
            // The names are SQL identifiers: nothing in them needs escaping.
            let _ = write!(out, "\"{name}\":");
            push_json(&mut out, value);
        }
        out.push('}');
    }
    out.push(']');
    out
}

/// One value as JSON that `json_to_recordset` reads back as the same value:
/// a timestamp as RFC 3339 text to the microsecond, which PostgreSQL keeps.
fn push_json(out: &mut String, value: &Value) {
    match value {
        Value::ChronoDateTimeUtc(Some(at)) => {
            let _ = write!(out, "\"{}\"", at.to_rfc3339_opts(SecondsFormat::Micros, true));
        }
        Value::String(Some(text)) => {
            out.push_str(&serde_json::Value::from(text.as_str()).to_string());
        }
        Value::BigInt(Some(n)) => {
            let _ = write!(out, "{n}");
        }
        Value::Int(Some(n)) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(Some(b)) => {
            let _ = write!(out, "{b}");
        }
        other if !other.is_some() => out.push_str("null"),
        other => out.push_str(&sea_orm::sea_query::value::sea_value_to_json_value(other).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: BulkUpdate = BulkUpdate {
        table: "job_info",
        key: "job_id",
        values: &[("v_id", "text"), ("v_version", "bigint"), ("v_status", "text")],
        set: &[("last_status", "v.v_status"), ("version", "t.version + 1")],
        filter: Some("t.version = v.v_version"),
    };

    fn rows() -> Vec<Vec<Value>> {
        vec![
            vec!["a".into(), 1_i64.into(), "x".into()],
            vec!["b".into(), 2_i64.into(), "y".into()],
        ]
    }

    #[test]
    fn postgres_reads_the_rows_from_one_json_parameter_and_returns_the_keys() {
        let statement = SHAPE.statement(DbBackend::Postgres, rows(), true);
        assert_eq!(
            statement.sql,
            "UPDATE job_info AS t SET last_status = v.v_status, version = t.version + 1 \
             FROM json_to_recordset($1::json) AS v(v_id text, v_version bigint, v_status text) \
             WHERE t.job_id = v.v_id AND t.version = v.v_version RETURNING t.job_id"
        );
        let values = statement.values.unwrap().0;
        assert_eq!(
            values,
            vec![Value::from(
                r#"[{"v_id":"a","v_version":1,"v_status":"x"},{"v_id":"b","v_version":2,"v_status":"y"}]"#
            )]
        );
        let more = SHAPE.statement(DbBackend::Postgres, [rows(), rows()].concat(), true);
        assert_eq!(more.sql, statement.sql, "one text whatever the number of rows");
    }

    #[test]
    fn sqlite_joins_a_values_list_and_returns_the_keys() {
        let statement = SHAPE.statement(DbBackend::Sqlite, rows(), true);
        assert_eq!(
            statement.sql,
            "WITH v(v_id, v_version, v_status) AS (VALUES (?, ?, ?), (?, ?, ?)) \
             UPDATE job_info AS t SET last_status = v.v_status, version = t.version + 1 FROM v \
             WHERE t.job_id = v.v_id AND t.version = v.v_version RETURNING job_id"
        );
        assert_eq!(statement.values.map_or(0, |v| v.0.len()), 6);
    }

    #[test]
    fn chunks_take_few_sizes_and_keep_every_row_in_order() {
        let sizes = |n: usize| {
            in_chunks((0..n).collect())
                .map(|c: Vec<usize>| c.len())
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(670), [512, 128, 16, 8, 4, 2]);
        assert_eq!(sizes(1_300), [512, 512, 256, 16, 4]);
        assert_eq!(sizes(2_000), [512, 512, 512, 256, 128, 64, 16]);
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..=2_000 {
            let chunks: Vec<Vec<usize>> = in_chunks((0..n).collect()).collect();
            assert_eq!(chunks.concat(), (0..n).collect::<Vec<_>>(), "{n} rows");
            assert!(
                chunks.len() <= n / LARGEST_CHUNK + LARGEST_CHUNK.ilog2() as usize,
                "{n} rows"
            );
            seen.extend(chunks.iter().map(Vec::len));
        }
        // One text per size: ten in all, whatever the number of rows.
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
        );
    }

    #[test]
    fn json_rows_keep_nulls_escapes_and_microseconds() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-05-01T00:01:00.123456Z")
            .unwrap()
            .to_utc();
        let json = json_rows(
            &["v_text", "v_at", "v_none", "v_flag"],
            &[vec![
                "a \"quoted\"\nline".into(),
                Some(at).into(),
                Option::<String>::None.into(),
                false.into(),
            ]],
        );
        assert_eq!(
            json,
            r#"[{"v_text":"a \"quoted\"\nline","v_at":"2026-05-01T00:01:00.123456Z","v_none":null,"v_flag":false}]"#
        );
    }

    #[test]
    fn mysql_joins_a_derived_table_and_qualifies_the_assignments() {
        let statement = SHAPE.statement(DbBackend::MySql, rows(), true);
        assert_eq!(
            statement.sql,
            "UPDATE (SELECT ? AS v_id, ? AS v_version, ? AS v_status UNION ALL SELECT ?, ?, ?) AS v \
             STRAIGHT_JOIN job_info AS t ON t.job_id = v.v_id SET t.last_status = v.v_status, t.version = t.version + 1 \
             WHERE t.version = v.v_version"
        );
    }
}
