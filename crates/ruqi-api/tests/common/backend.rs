//! The database backends a test can run on: SQLite always, PostgreSQL when
//! `RUQI_TEST_POSTGRES_URL` is set, MySQL/MariaDB when `RUQI_TEST_MYSQL_URL`
//! is set. With `CI=true` a missing URL fails the test instead of skipping
//! it. Each test gets a database of its own, dropped at its end.

use sea_orm::{ConnectionTrait, Database, DatabaseBackend, DatabaseConnection};

/// A database backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    fn env_var(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some("RUQI_TEST_POSTGRES_URL"),
            Backend::MySql => Some("RUQI_TEST_MYSQL_URL"),
        }
    }
}

/// A fresh, empty database of one backend (not migrated yet).
pub struct TestDb {
    pub backend: Backend,
    pub db: DatabaseConnection,
    /// Holds a SQLite file's directory until the test ends.
    _dir: Option<tempfile::TempDir>,
    /// The server connection and the database's name, to drop it.
    admin: Option<(DatabaseConnection, String)>,
}

impl TestDb {
    /// A new database, or `None` when the backend's URL is not set (outside CI).
    pub async fn new(backend: Backend) -> Option<TestDb> {
        let Some(var) = backend.env_var() else {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("api.db").display());
            let db = Database::connect(url).await.unwrap();
            return Some(TestDb {
                backend,
                db,
                _dir: Some(dir),
                admin: None,
            });
        };
        let url = match std::env::var(var) {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("{var} must be set in CI"),
            _ => {
                eprintln!("skipped: {var} is not set");
                return None;
            }
        };
        let admin = Database::connect(&url).await.expect("connect to the test server");
        let name = format!("ruqi_api_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
        let db = Database::connect(format!("{base}/{name}")).await.unwrap();
        Some(TestDb {
            backend,
            db,
            _dir: None,
            admin: Some((admin, name)),
        })
    }

    /// Closes the connection and drops the database (PostgreSQL and MySQL).
    pub async fn drop_database(self) {
        let TestDb { db, admin, .. } = self;
        let _ = db.close().await;
        if let Some((admin, name)) = admin {
            let force = if admin.get_database_backend() == DatabaseBackend::Postgres {
                " WITH (FORCE)"
            } else {
                ""
            };
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}{force}"))
                .await;
        }
    }
}

/// Generates one test per backend for each listed `async fn name(Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await;
                }
            )+
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::MySql).await;
                }
            )+
        }
    };
}
