//! How both binaries end: an error is printed for a person, not a programmer.

use std::process::ExitCode;

/// Print `result`'s error, if any, as `error: ...` followed by each cause in its chain, and no
/// backtrace (even with RUST_BACKTRACE set); then exit 1.
///
/// The rule every Sealdrop error follows (as the age crate's do): an error's message says what
/// failed, and its cause sits in the chain (`#[source]`), never also in the message. So each
/// cause is printed once, on its own line, without comparing texts.
pub fn finish(result: anyhow::Result<()>) -> ExitCode {
    let Err(error) = result else {
        return ExitCode::SUCCESS;
    };
    eprint!("{}", report(&error));
    ExitCode::FAILURE
}

/// The text [`finish`] prints for `error`: the error, then each cause on a line of its own.
pub fn report(error: &anyhow::Error) -> String {
    let mut text = format!("error: {error}\n");
    for cause in error.chain().skip(1) {
        text.push_str(&format!("  because: {cause}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read the recipients file keys.txt")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn each_cause_is_said_once_in_order() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = anyhow::Error::new(Outer(io)).context("loading the configuration");
        assert_eq!(
            report(&error),
            "error: loading the configuration\n  \
             because: cannot read the recipients file keys.txt\n  \
             because: no such file\n"
        );
    }
}
