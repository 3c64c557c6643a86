//! DTLS handshake work off the workers' media threads. A handshake costs ~0.3 ms of CPU (ECDHE,
//! signatures), most of it in one flight: fifty viewers joining at once would hold a worker
//! for 15 ms in such pieces, while its requests and media wait. A small process-wide pool (one
//! thread per CPU, at most four) runs the engines' `Output::Handshake` work and hands each job
//! back to its worker's loop.
//!
//! The pool's threads are `SCHED_BATCH`: they take their share of the CPUs but do not preempt
//! a media thread when they wake (on two cores, a woken thread lands on the waker's CPU).

use std::sync::{mpsc, Arc, Mutex, OnceLock};

use ferrosoup_sfu::engine::HandshakeWork;
use tokio::sync::mpsc::UnboundedSender;

/// Where a finished job goes: its worker's loop.
pub type Back = UnboundedSender<HandshakeWork>;

/// Threads at most (more would only contend with the media threads).
const MAX_THREADS: usize = 4;

struct Pool {
    jobs: Mutex<mpsc::Sender<(HandshakeWork, Back)>>,
}

fn pool() -> Option<&'static Pool> {
    static POOL: OnceLock<Option<Pool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_THREADS);
        let (tx, rx) = mpsc::channel::<(HandshakeWork, Back)>();
        let rx = Arc::new(Mutex::new(rx));
        let mut started = 0;
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("ferrosoup-dtls{i}")).spawn(move || {
                batch_priority();
                loop {
                    // The lock is held only while waiting for the next job.
                    let next = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((mut work, back)) = next else { return };
                    // A panic inside is caught by the job (it comes back failed).
                    work.run();
                    // The worker may have gone meanwhile: then nobody wants it.
                    let _ = back.send(work);
                }
            });
            started += usize::from(spawned.is_ok());
        }
        (started > 0).then(|| Pool { jobs: Mutex::new(tx) })
    })
    .as_ref()
}

/// The calling thread in `SCHED_BATCH` (allowed without privilege; best effort).
fn batch_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sets the calling thread's (pid 0) policy from a valid parameter struct.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
}

/// Queues `work` for the pool; it comes back on `back`. `Err(work)` when there is no pool (no
/// thread could start): the caller runs it itself.
pub fn submit(work: HandshakeWork, back: &Back) -> Result<(), HandshakeWork> {
    let Some(pool) = pool() else { return Err(work) };
    let Ok(jobs) = pool.jobs.lock() else { return Err(work) };
    jobs.send((work, back.clone())).map_err(|mpsc::SendError((work, _))| work)
}
