//! `agentsim`: list, replay and sweep simulation scenarios.

fn main() -> std::process::ExitCode {
    scenarios::cli::main()
}
