//! How both binaries end: an error is printed for a person, not a programmer.

use std::process::ExitCode;

/// Make this process leave no copy of its memory behind: no core dump (`RLIMIT_CORE` 0, soft and
/// hard, so it cannot be raised again) and, on Linux, not dumpable (`PR_SET_DUMPABLE` 0), which
/// also forbids `ptrace` and reading `/proc/PID/mem` to other processes of the same user (root,
/// or anyone with `CAP_SYS_PTRACE`, still can). Both binaries call this first thing in `main`,
/// so the guarantee does not depend on the systemd unit's `LimitCORE=0`.
///
/// The dumpable flag is reset by `execve`; the core limit is inherited by children.
pub fn no_core_dumps() -> std::io::Result<()> {
    use rustix::process::{setrlimit, Resource, Rlimit};
    setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
    Ok(())
}

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

    #[test]
    fn no_core_dumps_sets_the_core_limit_to_zero_and_clears_dumpable() {
        // Harmless for the test process: it only loses its core dumps.
        no_core_dumps().unwrap();
        let limit = rustix::process::getrlimit(rustix::process::Resource::Core);
        assert_eq!((limit.current, limit.maximum), (Some(0), Some(0)));
        #[cfg(target_os = "linux")]
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
        // The hard limit is 0: nothing in the process can raise it again.
        let raise = rustix::process::setrlimit(
            rustix::process::Resource::Core,
            rustix::process::Rlimit {
                current: Some(1 << 20),
                maximum: Some(1 << 20),
            },
        );
        // Root keeps CAP_SYS_RESOURCE and may raise it; anyone else may not.
        if !rustix::process::geteuid().is_root() {
            assert!(raise.is_err());
        }
    }

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
