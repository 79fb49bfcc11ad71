fn main() -> std::process::ExitCode {
    microblog::cli::main()
}
