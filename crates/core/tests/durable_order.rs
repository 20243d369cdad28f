//! The durable-files order, checked against the system calls a real process makes.
//!
//! This program runs itself again under `strace` (as the child it writes a file and creates
//! directories through `sealdrop_core::durable`), then reads the trace and checks, for the new
//! file: written under a temporary name, that file fsynced, renamed to its final name, the
//! directory fsynced; and for each directory created: its parent fsynced after it was made.
//! Removing or reordering any of those steps fails it. It needs the Debian package `strace`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sealdrop_core::durable::{create_private_dir, write_new};

/// Set in the traced child: the directory it works in.
const CHILD_ENV: &str = "SEALDROP_DURABLE_ORDER_CHILD";
const SYSCALLS: &str =
    "openat,write,fsync,fdatasync,rename,renameat,renameat2,link,linkat,mkdir,mkdirat,syncfs";

fn main() {
    if let Some(work) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&work));
        return;
    }
    print!("test durable_order ... ");
    parent();
    println!("ok");
}

/// What is traced: the calls callers make.
fn child(work: &Path) {
    let deeper = work.join("made/deeper");
    create_private_dir(&deeper).expect("creating the directories");
    write_new(&deeper.join("final.txt"), b"durable contents").expect("writing the file");
}

fn parent() {
    match Command::new("strace").arg("-V").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`strace -V` failed; this test needs a working strace (Debian package `strace`): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "this test runs the durable-files code under strace: install the Debian package \
             `strace` (`apt-get install strace`); running it failed: {e}"
        ),
    }
    let scratch = tempfile::tempdir().unwrap();
    let work = scratch.path().join("work");
    std::fs::create_dir(&work).unwrap();
    // As `-y` prints descriptors' paths: with any symbolic links resolved.
    let work = work.canonicalize().unwrap();
    let trace_file = scratch.path().join("trace.txt");
    let out = Command::new("strace")
        .args(["-f", "-y", "-qq", "-e"])
        .arg(format!("trace={SYSCALLS}"))
        .arg("-o")
        .arg(&trace_file)
        .arg(std::env::current_exe().unwrap())
        .env(CHILD_ENV, &work)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the traced child failed (is ptrace allowed here?):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = std::fs::read_to_string(&trace_file).unwrap();
    let events: Vec<Event> = calls(&trace)
        .iter()
        .filter_map(Event::parse)
        .filter(|e| e.paths().iter().any(|p| p.starts_with(&work)))
        .collect();
    if let Err(problem) = check(&work, &events) {
        let shown: Vec<String> = events.iter().map(|e| format!("  {e:?}")).collect();
        panic!(
            "durable-files order broken: {problem}\ncalls on {}:\n{}",
            work.display(),
            shown.join("\n")
        );
    }
}

fn check(work: &Path, events: &[Event]) -> Result<(), String> {
    let dir = work.join("made/deeper");
    let target = dir.join("final.txt");

    // The file: written aside, fsynced, renamed, then its directory fsynced.
    let (renamed, temp) = events
        .iter()
        .enumerate()
        .find_map(|(i, e)| match e {
            Event::Rename { from, to } if *to == target => Some((i, from.clone())),
            _ => None,
        })
        .ok_or("the file never got its final name by a rename")?;
    if temp.parent() != Some(dir.as_path()) {
        return Err(format!(
            "the temporary file {} is not beside its final name",
            temp.display()
        ));
    }
    let written: Vec<usize> = positions(events, |e| *e == Event::Write(temp.clone()));
    let last_write = *written
        .last()
        .ok_or("nothing was written to the temporary file")?;
    if last_write > renamed {
        return Err("the temporary file was written after its rename".into());
    }
    if !positions(events, |e| *e == Event::Write(target.clone())).is_empty() {
        return Err("the file was written under its final name".into());
    }
    let synced = positions(events, |e| *e == Event::Sync(temp.clone()));
    if !synced.iter().any(|&i| last_write < i && i < renamed) {
        return Err(
            "the temporary file was not fsynced between its last write and the rename".into(),
        );
    }
    let dir_synced = positions(events, |e| *e == Event::Sync(dir.clone()));
    if !dir_synced.iter().any(|&i| i > renamed) {
        return Err("the directory was not fsynced after the rename".into());
    }

    // Each directory created: its parent fsynced before anything goes into it.
    let first_write = written[0];
    for (made, parent) in [
        (work.join("made"), work.to_owned()),
        (dir.clone(), work.join("made")),
    ] {
        let created = *positions(events, |e| *e == Event::Mkdir(made.clone()))
            .first()
            .ok_or_else(|| format!("{} was not created", made.display()))?;
        let parent_synced = positions(events, |e| *e == Event::Sync(parent.clone()));
        if !parent_synced
            .iter()
            .any(|&i| created < i && i < first_write)
        {
            return Err(format!(
                "{} was not fsynced after {} was created in it",
                parent.display(),
                made.display()
            ));
        }
    }
    Ok(())
}

fn positions(events: &[Event], wanted: impl Fn(&Event) -> bool) -> Vec<usize> {
    (0..events.len()).filter(|&i| wanted(&events[i])).collect()
}

/// A traced call, reduced to what the order is about.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Write(PathBuf),
    /// fsync or fdatasync of a descriptor open on this path.
    Sync(PathBuf),
    /// A rename, or a hard link (how a never-replacing rename is done where renameat2 is missing).
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    Mkdir(PathBuf),
}

impl Event {
    fn parse(call: &Call) -> Option<Event> {
        if call.failed {
            return None;
        }
        let quoted = quoted_strings(&call.args);
        let path = |s: &String| PathBuf::from(s);
        Some(match call.name.as_str() {
            "write" => Event::Write(fd_path(&call.args)?),
            "fsync" | "fdatasync" => Event::Sync(fd_path(&call.args)?),
            "rename" | "renameat" | "renameat2" | "link" | "linkat" => match &quoted[..] {
                [from, to] => Event::Rename {
                    from: path(from),
                    to: path(to),
                },
                _ => return None,
            },
            "mkdir" | "mkdirat" => Event::Mkdir(path(quoted.first()?)),
            _ => return None,
        })
    }

    fn paths(&self) -> Vec<&Path> {
        match self {
            Event::Write(p) | Event::Sync(p) | Event::Mkdir(p) => vec![p],
            Event::Rename { from, to } => vec![from, to],
        }
    }
}

/// One system call from `strace -f -y` output.
struct Call {
    name: String,
    args: String,
    failed: bool,
}

/// The calls in a trace, in order, with calls another thread interrupted joined up again.
fn calls(trace: &str) -> Vec<Call> {
    let mut unfinished: HashMap<&str, String> = HashMap::new();
    let mut out = Vec::new();
    for line in trace.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        let whole = if let Some(start) = rest.strip_suffix(" <unfinished ...>") {
            unfinished.insert(pid, start.to_owned());
            continue;
        } else if rest.starts_with("<... ") {
            let Some((_, tail)) = rest.split_once(" resumed>") else {
                continue;
            };
            match unfinished.remove(pid) {
                Some(start) => start + tail,
                None => continue,
            }
        } else {
            rest.to_owned()
        };
        // `name(args)`, padding, `= result`.
        let Some(equals) = whole.rfind(" = ") else {
            continue;
        };
        let (Some(open), Some(close)) = (whole.find('('), whole[..equals].rfind(')')) else {
            continue;
        };
        out.push(Call {
            name: whole[..open].to_owned(),
            args: whole[open + 1..close].to_owned(),
            failed: whole[equals + 3..].starts_with('-'),
        });
    }
    out
}

/// The path `-y` prints after a descriptor: `3</tmp/x>` gives `/tmp/x`.
fn fd_path(args: &str) -> Option<PathBuf> {
    let start = args.find('<')? + 1;
    let len = args[start..].find('>')?;
    Some(PathBuf::from(&args[start..start + len]))
}

/// The double-quoted strings among the arguments (paths here are plain ASCII).
fn quoted_strings(args: &str) -> Vec<String> {
    args.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}
