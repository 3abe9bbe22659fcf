fn main() -> std::process::ExitCode {
    strata_cli::main_with_args(std::env::args_os().collect())
}
