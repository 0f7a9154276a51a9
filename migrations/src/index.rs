//! The index statements the migrations share: each index is named, so a
//! migration run again (or a `down` followed by an `up`) finds what it made.

use sea_orm_migration::prelude::*;

/// `CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns}…)`.
pub(crate) fn create(table: &str, name: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.if_not_exists().name(name).table(Alias::new(table));
    for column in columns {
        index.col(Alias::new(*column));
    }
    index.to_owned()
}

/// Drops the index `name` of `table`, if it exists.
pub(crate) async fn drop_if_present(manager: &SchemaManager<'_>, table: &str, name: &str) -> Result<(), DbErr> {
    if manager.has_index(table, name).await? {
        manager
            .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
            .await?;
    }
    Ok(())
}

/// Creates `new` and then drops `old`, if it exists: one index taking
/// another's place on `table`.
pub(crate) async fn replace(
    manager: &SchemaManager<'_>,
    table: &str,
    new: (&str, &[&str]),
    old: &str,
) -> Result<(), DbErr> {
    manager.create_index(create(table, new.0, new.1)).await?;
    drop_if_present(manager, table, old).await
}
