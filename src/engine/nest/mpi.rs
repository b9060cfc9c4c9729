//! Whether this process was started by an MPI launcher, and which NEST
//! kernel that selects (docs/cluster.md, "Which kernel runs").
//!
//! Read from the launcher's environment before NEST is loaded, since it
//! decides which kernel to load and which rank writes the run directory:
//! Open MPI's `mpirun` sets `OMPI_COMM_WORLD_SIZE` / `OMPI_COMM_WORLD_RANK`,
//! MPICH's Hydra and `srun --mpi=pmi2` set `PMI_SIZE` / `PMI_RANK`, PMIx
//! launchers (`srun --mpi=pmix`, Open MPI 5) `PMIX_RANK` (the size then
//! from `SLURM_NTASKS`, if there). These are the variables NEST itself uses
//! to refuse a launch with a kernel that has no MPI. After the kernel is up,
//! its own ranks ([`super::driver::Parallel`]) are authoritative.

use anyhow::Result;

use crate::usage;

/// Environment variable that overrides the detection: `1` loads the MPI
/// kernel also in a plain process (one rank), `0` the default kernel even
/// under a launcher.
pub const SELECT_VAR: &str = "SEQLEARN_NEST_MPI";

/// An MPI launch as the launcher's environment describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    /// Number of ranks, if the launcher says.
    pub size: Option<usize>,
    /// This process's rank.
    pub rank: usize,
}

impl Launch {
    /// The launch described by `var` (an environment lookup), if any.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<Launch> {
        let num = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| var(n).and_then(|v| v.trim().parse::<usize>().ok()))
        };
        let rank = num(&["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"])?;
        let size = num(&["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"]);
        Some(Launch { size, rank })
    }

    /// The launch of this process, if any.
    pub fn current() -> Option<Launch> {
        Launch::from_vars(|n| std::env::var(n).ok())
    }
}

/// Whether this process writes output (the run directory, tables on
/// stdout): rank 0 of an MPI launch, or a process without one.
pub fn is_writer() -> bool {
    Launch::current().is_none_or(|l| l.rank == 0)
}

/// Whether the MPI kernel is to be loaded: [`SELECT_VAR`] if set (`0` or
/// `1`), else whether an MPI launcher started the process.
pub fn mpi_kernel_wanted() -> Result<bool> {
    match std::env::var(SELECT_VAR) {
        Ok(v) if v == "1" => Ok(true),
        Ok(v) if v == "0" => Ok(false),
        Ok(v) if !v.is_empty() => Err(usage!(
            "environment variable {SELECT_VAR}={v:?}: allowed values are 0 (the default \
             NEST kernel) and 1 (the MPI kernel); unset, an MPI launch selects the MPI kernel"
        )),
        _ => Ok(Launch::current().is_some()),
    }
}

/// Refuses the native engine in a launch of more than one rank: every rank
/// would run the whole network and write the same directory.
pub fn refuse_native() -> Result<()> {
    match Launch::current() {
        Some(l) if l.size != Some(1) => Err(usage!(
            "--backend native under an MPI launcher ({} ranks): the native engine is one \
             process; use --backend nest (NEST distributes the neurons over the ranks), or run \
             the native engine without mpirun",
            l.size
                .map_or_else(|| "several".to_string(), |n| n.to_string())
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(vars: &[(&str, &str)]) -> Option<Launch> {
        Launch::from_vars(|n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn launchers_are_recognised() {
        assert_eq!(launch(&[]), None);
        let ompi = [("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_SIZE", "2")];
        assert_eq!(
            launch(&ompi),
            Some(Launch {
                size: Some(2),
                rank: 1
            })
        );
        let pmix = [("PMIX_RANK", "0"), ("SLURM_NTASKS", "8")];
        assert_eq!(
            launch(&pmix),
            Some(Launch {
                size: Some(8),
                rank: 0
            })
        );
        assert_eq!(
            launch(&[("PMI_RANK", "3")]),
            Some(Launch {
                size: None,
                rank: 3
            })
        );
        // a size alone (e.g. a Slurm job step without a launcher) is no launch
        assert_eq!(launch(&[("SLURM_NTASKS", "4")]), None);
        assert_eq!(launch(&[("PMI_RANK", "x")]), None);
    }
}
