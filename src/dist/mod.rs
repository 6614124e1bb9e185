//! The processes of one run: who this process is among them ([`Collective::rank`],
//! [`Collective::size`]) and the few collective operations the trainer needs, on host memory.
//! [`Single`] is a run on one process; [`Mpi`] (feature `mpi`) a run on `mpirun -np N`.
//!
//! Every reduction gives every rank the same bits: the trainer applies the same update on every
//! rank, so the parameters stay equal only if the reduced gradients are identical everywhere.

#[cfg(feature = "mpi")]
mod mpi;

#[cfg(feature = "mpi")]
pub use self::mpi::Mpi;

/// Collective operations across the processes of a run.
pub trait Collective {
    /// This process's index, from 0; rank 0 writes the run's files and prints its log.
    fn rank(&self) -> usize;

    /// Processes in the run (the world size).
    fn size(&self) -> usize;

    /// Replaces `values` by their element-wise sum over all ranks: the same bits on every rank.
    fn sum_f32(&self, values: &mut [f32]);

    /// The smallest and the largest of `value` over all ranks.
    fn min_max_u64(&self, value: u64) -> (u64, u64);

    /// Returns when every rank has called it.
    fn barrier(&self);

    /// The host name of each rank, by rank.
    fn hosts(&self) -> Vec<String>;

    /// Ends every process of the run with `code` (after an error on one of them: the others
    /// may be waiting for it in a collective operation).
    fn abort(&self, code: i32) -> !;

    /// Whether this process writes the run's files and prints (rank 0).
    fn is_leader(&self) -> bool {
        self.rank() == 0
    }
}

/// The processes of this run: [`Mpi`] when an MPI launcher started this process (and the
/// `mpi` feature is on), else [`Single`]. Ranks other than 0 stop printing to stdout.
pub fn join() -> anyhow::Result<Box<dyn Collective>> {
    #[cfg(feature = "mpi")]
    if let Some(mpi) = Mpi::init()? {
        return Ok(Box::new(mpi));
    }
    Ok(Box::new(Single))
}

/// A run on one process: every operation is the identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct Single;

impl Collective for Single {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn sum_f32(&self, _values: &mut [f32]) {}

    fn min_max_u64(&self, value: u64) -> (u64, u64) {
        (value, value)
    }

    fn barrier(&self) {}

    fn hosts(&self) -> Vec<String> {
        vec![host_name()]
    }

    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// This machine's name (from the kernel; "localhost" where it cannot be read).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Processes of this run on this machine, as the launcher says (Open MPI's
/// `OMPI_COMM_WORLD_LOCAL_SIZE`, Slurm's `SLURM_NTASKS_PER_NODE`); 1 when started alone.
pub fn local_size() -> usize {
    ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"]
        .iter()
        .find_map(|var| std::env::var(var).ok()?.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_process_is_rank_0_of_1_and_reduces_to_itself() {
        let single = Single;
        let mut values = [1.5f32, -2.0];
        single.sum_f32(&mut values);
        assert_eq!((single.rank(), single.size(), values), (0, 1, [1.5, -2.0]));
        assert_eq!(single.min_max_u64(7), (7, 7));
        assert!(single.is_leader());
    }
}
