//! The runtime the group commit's writers run on (see `batch.rs`).

/// Starts a writer on the writers' runtime ([`runtime`]), or on the
/// caller's when that one could not be made.
pub(super) fn spawn(task: impl Future<Output = ()> + Send + 'static) {
    match runtime() {
        Some(runtime) => drop(runtime.spawn(task)),
        None => drop(tokio::spawn(task)),
    }
}

/// The runtime every store's writers run on: one thread of its own for the
/// whole process, made on first use and kept until the process ends.
///
/// A writer awaits the database a dozen times a batch. On the caller's
/// runtime each of those wake-ups waits behind every task already queued
/// there, and when thousands of fires come due at once that is thousands of
/// fires and runs, while all of them wait for the writer. On a runtime of
/// its own the writer goes on as soon as the database answers. Measured
/// with `ruqi-bench throughput` at 100,000 jobs due at once, the builds
/// alternating (medians): SQLite 20,007/s with the writer on the caller's
/// runtime, 23,276/s on its own (3 runs each; a batch of 2,000 claims took
/// about 47 ms, then 17 ms); PostgreSQL over its Unix socket 21,486/s and
/// 24,323/s (3 runs each), over TCP 21,072/s and 23,941/s (2 runs each);
/// MariaDB over its Unix socket 15,042/s and 15,841/s (3 runs each).
///
/// A pool connection the writers open is served by this runtime's I/O
/// driver wherever it is used later, and one the application opened by the
/// application's runtime; either works from any runtime, and this one never
/// shuts down, so no connection the writers open outlives its driver.
fn runtime() -> Option<&'static tokio::runtime::Handle> {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Handle>> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("ruqi-writers".to_owned())
                .spawn(move || runtime.block_on(std::future::pending::<()>()))
                .ok()?;
            Some(handle)
        })
        .as_ref()
}
