//! Memory given back after a burst: the async runtime the host runs on, whose worker threads
//! return the allocator's free pages to the kernel when they go idle.
//!
//! mimalloc keeps the pages a thread freed in that thread's heap, and purges them only when the
//! thread allocates again: after a burst of thousands of calls the workers sleep and the host
//! kept hundreds of MiB it no longer used (BENCHMARKS.md, the slow partner).

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The least time between two collections on one thread.
const EVERY: Duration = Duration::from_secs(1);

/// The multi-threaded runtime `panelgate serve` runs on: `worker_threads` workers (the number
/// of cores when `None`), each collecting its allocator heap when it parks, at most every
/// [`EVERY`].
pub fn runtime(worker_threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = worker_threads {
        builder.worker_threads(n);
    }
    builder.enable_all().on_thread_park(give_back).build()
}

/// Returns this thread's free allocator pages to the kernel, unless it did so within [`EVERY`].
#[allow(unsafe_code)]
fn give_back() {
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    if LAST.get().is_some_and(|last| now.duration_since(last) < EVERY) {
        return;
    }
    LAST.set(Some(now));
    // SAFETY: `mi_collect` only walks and trims the calling thread's own heap.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Workers that allocate, free and go idle run their collection and keep working after it.
    #[test]
    fn the_runtime_collects_on_idle_workers_and_keeps_serving() {
        let runtime = runtime(Some(2)).expect("a runtime");
        let total: usize = runtime.block_on(async {
            let mut sum = 0;
            for round in 0..3 {
                let tasks: Vec<_> = (0..64)
                    .map(|i| tokio::spawn(async move { vec![round as u8; 64 << 10 | i].len() }))
                    .collect();
                for task in tasks {
                    sum += task.await.expect("the task ran");
                }
                // Idle for longer than `EVERY`: each worker parks and collects.
                tokio::time::sleep(EVERY + Duration::from_millis(100)).await;
            }
            sum
        });
        assert_eq!(total, 3 * (0..64).map(|i| 64 << 10 | i).sum::<usize>());
    }
}
