//! How both binaries end: an error is printed for a person, not a programmer.

use std::process::ExitCode;

/// Print `result`'s error, if any, as `error: ...` followed by each cause the message does not
/// already say, and no backtrace (even with RUST_BACKTRACE set); then exit 1.
pub fn finish(result: anyhow::Result<()>) -> ExitCode {
    let Err(error) = result else {
        return ExitCode::SUCCESS;
    };
    eprintln!("error: {error}");
    let mut said = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        // Typed errors often quote their source in their own message; say each thing once.
        if !said.contains(&text) {
            eprintln!("  because: {text}");
        }
        said = text;
    }
    ExitCode::FAILURE
}
