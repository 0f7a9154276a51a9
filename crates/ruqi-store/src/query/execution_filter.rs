//! The `WHERE` clause of an [`ExecutionFilter`], shared by the history list
//! and its statistics so both always count the same rows.

use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, LikeExpr};

use super::ExecutionFilter;
use crate::entity::job_execution::Column;

impl ExecutionFilter {
    /// The rows this filter matches, as a condition on `job_execution`.
    pub(crate) fn condition(&self) -> Condition {
        let mut cond = Condition::all();
        if let Some(job_id) = &self.job_id {
            cond = cond.add(Column::JobId.eq(job_id.as_str()));
        }
        if let Some(job_name) = &self.job_name {
            cond = cond.add(Column::JobName.eq(job_name.as_str()));
        }
        if let Some(status) = &self.status {
            cond = cond.add(Column::Status.eq(status.as_str()));
        }
        if let Some(from) = self.from {
            cond = cond.add(Column::ScheduledFor.gte(from));
        }
        if let Some(to) = self.to {
            cond = cond.add(Column::ScheduledFor.lt(to));
        }
        if let Some(prefix) = self.job_id_prefix.as_deref().filter(|p| !p.is_empty()) {
            cond = cond.add(Expr::expr(Func::lower(Expr::col(Column::JobId))).like(like_pattern(prefix, false)));
        }
        if let Some(text) = self.error.as_deref().filter(|t| !t.is_empty()) {
            cond = cond.add(Expr::expr(Func::lower(Expr::col(Column::Error))).like(like_pattern(text, true)));
        }
        if self.since_job_created {
            // No identifier here needs quoting on any backend.
            cond = cond.add(Expr::cust(
                "job_execution.scheduled_for >= \
                 (SELECT job_info.created_at FROM job_info WHERE job_info.job_id = job_execution.job_id)",
            ));
        }
        cond
    }
}

/// A `LIKE` pattern (matched against a lower-cased column) for `text` taken
/// literally: at the start (`anywhere` false) or anywhere. `%`, `_` and the
/// escape character lose their wildcard meaning.
pub(crate) fn like_pattern(text: &str, anywhere: bool) -> LikeExpr {
    let mut pattern = String::with_capacity(text.len() + 2);
    if anywhere {
        pattern.push('%');
    }
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    LikeExpr::new(pattern).escape('!')
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{Query, SqliteQueryBuilder};

    use super::*;
    use crate::entity::job_execution::Entity;

    fn where_clause(filter: &ExecutionFilter) -> String {
        Query::select()
            .column(Column::Id)
            .from(Entity)
            .cond_where(filter.condition())
            .to_string(SqliteQueryBuilder)
    }

    #[test]
    fn prefix_and_error_text_are_literal_and_case_blind() {
        let filter = ExecutionFilter {
            job_id_prefix: Some("Mon_1%".into()),
            error: Some("Time!out".into()),
            ..ExecutionFilter::default()
        };
        let sql = where_clause(&filter);
        assert!(sql.contains(r"LIKE 'mon!_1!%%' ESCAPE '!'"), "{sql}");
        assert!(sql.contains(r"LIKE '%time!!out%' ESCAPE '!'"), "{sql}");
    }

    #[test]
    fn empty_texts_filter_nothing() {
        let filter = ExecutionFilter {
            job_id_prefix: Some(String::new()),
            error: Some(String::new()),
            ..ExecutionFilter::default()
        };
        let sql = where_clause(&filter);
        assert!(!sql.contains("LIKE"), "{sql}");
    }
}
