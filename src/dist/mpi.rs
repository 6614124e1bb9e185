//! [`Collective`] over MPI (rsmpi on Open MPI): `mpirun -np N burngpt --config FILE`.

use anyhow::{bail, Result};
use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};

use super::Collective;

/// Floats per MPI call: counts are 32-bit, and one call per 64 Mi floats (256 MiB) keeps the
/// number of calls per step at one for models up to 64M parameters.
const BUCKET: usize = 1 << 26;

/// This process's place in an MPI job. Dropping it finalizes MPI.
pub struct Mpi {
    world: SimpleCommunicator,
    // Declared last: dropped (MPI_Finalize) after the communicator.
    _universe: Universe,
}

impl Mpi {
    /// Initializes MPI; `None` when the process was not started by an MPI launcher (one
    /// process on its own: train alone). The caller makes every MPI call from this thread.
    pub fn init() -> Result<Option<Self>> {
        if !launched_by_mpi() {
            return Ok(None);
        }
        let Some(universe) = mpi::initialize() else { bail!("MPI is already initialized in this process") };
        let world = universe.world();
        if world.rank() != 0 {
            silence_stdout();
        }
        Ok(Some(Self { world, _universe: universe }))
    }
}

/// Points this process's stdout at /dev/null: rank 0 prints the run's log for all.
fn silence_stdout() {
    use std::os::fd::AsRawFd;
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 on two valid descriptors; it replaces fd 1 atomically, and Rust's stdout
        // writes to fd 1 without caching it.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
        }
    }
}

/// Whether a launcher (mpirun, mpiexec, srun) started this process as part of a job.
fn launched_by_mpi() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"].iter().any(|var| std::env::var_os(var).is_some())
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    /// Reduce to rank 0, then broadcast from it: whatever order MPI sums in, every rank
    /// receives rank 0's bits (an all-reduce may sum in a different order on each rank).
    fn sum_f32(&self, values: &mut [f32]) {
        let root = self.world.process_at_rank(0);
        for chunk in values.chunks_mut(BUCKET) {
            if self.rank() == 0 {
                let mut sum = vec![0f32; chunk.len()];
                root.reduce_into_root(&chunk[..], &mut sum[..], SystemOperation::sum());
                chunk.copy_from_slice(&sum);
            } else {
                root.reduce_into(&chunk[..], SystemOperation::sum());
            }
            root.broadcast_into(chunk);
        }
    }

    fn min_max_u64(&self, value: u64) -> (u64, u64) {
        let (mut min, mut max) = (0u64, 0u64);
        self.world.all_reduce_into(&value, &mut min, SystemOperation::min());
        self.world.all_reduce_into(&value, &mut max, SystemOperation::max());
        (min, max)
    }

    fn barrier(&self) {
        self.world.barrier();
    }

    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    fn hosts(&self) -> Vec<String> {
        let name = mpi::environment::processor_name().unwrap_or_else(|_| super::host_name());
        // Fixed-size records: every rank sends 64 bytes of its (truncated) name.
        let mut mine = [0u8; 64];
        let bytes = name.as_bytes();
        mine[..bytes.len().min(64)].copy_from_slice(&bytes[..bytes.len().min(64)]);
        let mut all = vec![0u8; 64 * self.size()];
        self.world.all_gather_into(&mine[..], &mut all[..]);
        all.chunks(64).map(|c| String::from_utf8_lossy(c).trim_end_matches('\0').to_string()).collect()
    }
}
