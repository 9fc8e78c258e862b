fn main() -> std::process::ExitCode {
    gijctl::cli::main()
}
