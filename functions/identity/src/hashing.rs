//! Password hashing on a fixed number of threads behind a bounded queue.
//!
//! One argon2id computation fills 19 MiB and keeps a core busy for tens of milliseconds. Run
//! on tokio's blocking pool, a burst of logins starts one thread per request (up to 512), each
//! with its own 19 MiB: the login function was seen holding 626 MB after the test suite. Here
//! the work goes to `workers` threads (one per core by default: more would only share the same
//! cores), so at most `workers` hashes are in memory at once. Requests wait in a queue of
//! `queue` places; when it is full the caller is told at once ([`Busy`]) and answers
//! `503 SERVICE_BUSY` with `Retry-After`, instead of piling up work it would finish too late.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use security::password;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::domain::Password;

/// Seconds a client should wait before trying again when the queue is full: a full queue
/// drains in well under a second with the defaults.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// The queue is full: nothing was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is busy; retry in {RETRY_AFTER_SECONDS} s")]
pub struct Busy;

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error(transparent)]
    Failed(anyhow::Error),
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads and their queue; clones share them. The threads end when the last
/// clone is dropped.
#[derive(Clone)]
pub struct PasswordHashing {
    jobs: mpsc::Sender<Job>,
    /// One permit per job running or waiting: `workers + queue` in all.
    admission: Arc<Semaphore>,
    workers: usize,
    queue: usize,
}

impl std::fmt::Debug for PasswordHashing {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PasswordHashing")
            .field("workers", &self.workers)
            .field("queue", &self.queue)
            .field("free", &self.admission.available_permits())
            .finish()
    }
}

impl PasswordHashing {
    /// Starts `workers` threads (at least one) with room for `queue` waiting jobs.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        let (jobs, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..workers {
            let receiver = Arc::clone(&receiver);
            let started = std::thread::Builder::new()
                .name(format!("password-hashing-{index}"))
                .spawn(move || work_off(&receiver));
            if let Err(error) = started {
                // Fewer threads only means less parallelism; the first one must start.
                tracing::error!(%error, index, "Could not start a password hashing thread");
            }
        }
        Self {
            jobs,
            admission: Arc::new(Semaphore::new(workers + queue)),
            workers,
            queue,
        }
    }

    /// One worker per core, and a queue of 32 per worker (about a second of work).
    pub fn sized_to_machine() -> Self {
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(workers, workers * 32)
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn queue(&self) -> usize {
        self.queue
    }

    /// Runs `work` on a hashing thread, or answers [`Busy`] at once when the queue is full.
    ///
    /// The place in the queue is held until the work has finished, even if the caller stopped
    /// waiting (a client that hung up), so the bound holds for work actually in flight.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingError> {
        let permit: OwnedSemaphorePermit = Arc::clone(&self.admission)
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            let result = work();
            drop(permit);
            let _ = answer.send(result);
        });
        self.jobs
            .send(job)
            .map_err(|_| HashingError::Failed(anyhow::anyhow!("the password hashing threads are gone")))?;
        answered
            .await
            .map_err(|_| HashingError::Failed(anyhow::anyhow!("a password hashing job failed")))
    }

    /// A new PHC hash of the password.
    pub async fn hash(&self, password: &Password) -> Result<String, HashingError> {
        let password = password.expose().to_owned();
        self.run(move || password::hash(&password))
            .await?
            .map_err(|error| HashingError::Failed(error.into()))
    }

    /// Whether the password matches the stored hash.
    pub async fn verify(&self, password: Password, stored_hash: String) -> Result<bool, HashingError> {
        self.run(move || password::verify(password.expose(), &stored_hash))
            .await?
            .map_err(|error| HashingError::Failed(error.into()))
    }

    /// The same work as [`PasswordHashing::verify`] against a hash nobody knows, so that an
    /// unknown account costs as long as a wrong password.
    pub async fn verify_against_decoy(&self, password: Password) -> Result<(), HashingError> {
        self.run(move || password::verify_against_decoy(password.expose()))
            .await
    }
}

/// A hashing thread: takes jobs until every sender is gone. A job that panics is contained
/// (its caller sees the job fail), so the thread lives on.
fn work_off(receiver: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let next = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else {
            return;
        };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            tracing::error!("A password hashing job panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_hashing_threads_and_its_result_comes_back() {
        let hashing = PasswordHashing::new(2, 4);
        let name = hashing
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .expect("run");
        assert!(name.is_some_and(|name| name.starts_with("password-hashing-")));
    }

    #[tokio::test]
    async fn when_workers_and_queue_are_taken_the_next_job_is_refused_at_once() {
        let hashing = PasswordHashing::new(1, 2);
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        let mut running = Vec::new();
        for _ in 0..3 {
            let hashing = hashing.clone();
            let released = Arc::clone(&released);
            running.push(tokio::spawn(async move {
                hashing
                    .run(move || {
                        let _ = released.lock().map(|released| released.recv());
                    })
                    .await
            }));
        }
        // The three jobs hold every place before any is released, so the fourth is refused.
        let admission = &hashing.admission;
        testkit::poll::Polling::new(Duration::from_secs(10), Duration::from_millis(5))
            .eventually("three places are taken", || async move {
                admission.available_permits() == 0
            })
            .await;
        assert!(matches!(hashing.run(|| ()).await, Err(HashingError::Busy(Busy))));
        for _ in 0..3 {
            release.send(()).expect("release");
        }
        for job in running {
            job.await.expect("task").expect("the admitted jobs finish");
        }
        assert!(
            hashing.run(|| ()).await.is_ok(),
            "free places are handed out again"
        );
    }

    #[tokio::test]
    async fn no_more_jobs_run_at_once_than_there_are_workers() {
        let hashing = PasswordHashing::new(2, 64);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut jobs = Vec::new();
        for _ in 0..40 {
            let (hashing, running, most) = (hashing.clone(), Arc::clone(&running), Arc::clone(&most));
            jobs.push(tokio::spawn(async move {
                hashing
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::hint::black_box(password::hash("a password to keep a worker busy"))
                            .expect("hash");
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            }));
        }
        for job in jobs {
            job.await.expect("task").expect("admitted");
        }
        assert!(most.load(Ordering::SeqCst) <= 2, "{most:?}");
    }

    #[tokio::test]
    async fn a_job_that_panics_fails_alone_and_the_worker_goes_on() {
        let hashing = PasswordHashing::new(1, 1);
        let failed = hashing.run(|| -> u32 { panic!("a bug in a job") }).await;
        assert!(matches!(failed, Err(HashingError::Failed(_))));
        assert_eq!(hashing.run(|| 7).await.expect("the worker lives"), 7);
    }
}
