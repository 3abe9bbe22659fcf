mod cli;

fn main() -> std::process::ExitCode {
    cli::main_with_args(std::env::args_os().collect())
}
