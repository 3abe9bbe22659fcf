//! `cargo strata <cmd>`: cargo runs `cargo-strata strata <cmd> …`; drop the repeated name.

fn main() -> std::process::ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "strata") {
        args.remove(1);
    }
    strata_cli::main_with_args(args)
}
