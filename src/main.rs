use std::process::ExitCode;

fn main() -> ExitCode {
    keyroute::cli::main()
}
