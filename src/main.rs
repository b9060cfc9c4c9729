//! `seqlearn-nest`: build, run and analyse soft-WTA sequence-learning networks.
//! Everything about the command line lives in [`cli`]; the library does the work.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
