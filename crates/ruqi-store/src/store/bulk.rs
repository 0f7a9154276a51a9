//! One `UPDATE` for many rows, each with values of its own: the statement
//! behind the store's group commit (`batch.rs`).
//!
//! PostgreSQL and SQLite join the table to a `VALUES` list named in a `WITH`
//! clause (`UPDATE … FROM v`, with `RETURNING` for the keys it touched);
//! MySQL and MariaDB, which have neither, join it to a derived table of
//! `SELECT ? … UNION ALL SELECT ? …` (a multi-table `UPDATE` that reads the
//! values first and the table's rows by key).

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

/// The shape of a bulk update. In `set` and `filter`, `t.` names the
/// table's columns and `v.` the values given for each row; `values[0]` is
/// the value matched against `key`.
pub(crate) struct BulkUpdate {
    /// The table.
    pub(crate) table: &'static str,
    /// The column that identifies a row.
    pub(crate) key: &'static str,
    /// Names of each row's values, the key's first. They are prefixed with
    /// `v_` so that no name is also a column of the table (MySQL would find
    /// an unqualified name ambiguous).
    pub(crate) values: &'static [&'static str],
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
        let width = self.values.len();
        let placeholder = |i: usize| match backend {
            DbBackend::Postgres => format!("${}", i + 1),
            _ => "?".to_owned(),
        };
        let row_sql = |r: usize, mysql: bool| {
            let cells: Vec<String> = (0..width)
                .map(|c| {
                    let p = placeholder(r * width + c);
                    if mysql && r == 0 {
                        format!("{p} AS {}", self.values[c])
                    } else {
                        p
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
                    first = self.values[0],
                    set = set.join(", "),
                ));
                if let Some(filter) = self.filter {
                    sql.push_str(&format!(" WHERE {filter}"));
                }
            }
            _ => {
                let tuples: Vec<String> = (0..count).map(|r| format!("({})", row_sql(r, false))).collect();
                let set: Vec<String> = self.set.iter().map(|(c, e)| format!("{c} = {e}")).collect();
                sql.push_str(&format!(
                    "WITH v({names}) AS (VALUES {tuples}) UPDATE {table} AS t SET {set} FROM v WHERE t.{key} = v.{first}",
                    names = self.values.join(", "),
                    tuples = tuples.join(", "),
                    table = self.table,
                    set = set.join(", "),
                    key = self.key,
                    first = self.values[0],
                ));
                if let Some(filter) = self.filter {
                    sql.push_str(&format!(" AND {filter}"));
                }
                if returning {
                    // Unqualified: SQLite does not take the alias here.
                    sql.push_str(&format!(" RETURNING {}", self.key));
                }
            }
        }
        Statement::from_sql_and_values(backend, sql, rows.into_iter().flatten())
    }

    /// Runs the update; returns the keys of the rows it changed on
    /// PostgreSQL and SQLite, `None` on MySQL (which cannot say which).
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

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: BulkUpdate = BulkUpdate {
        table: "job_info",
        key: "job_id",
        values: &["v_id", "v_version", "v_status"],
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
    fn postgres_joins_a_values_list_and_returns_the_keys() {
        let statement = SHAPE.statement(DbBackend::Postgres, rows(), true);
        assert_eq!(
            statement.sql,
            "WITH v(v_id, v_version, v_status) AS (VALUES ($1, $2, $3), ($4, $5, $6)) \
             UPDATE job_info AS t SET last_status = v.v_status, version = t.version + 1 FROM v \
             WHERE t.job_id = v.v_id AND t.version = v.v_version RETURNING job_id"
        );
        assert_eq!(statement.values.map_or(0, |v| v.0.len()), 6);
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
