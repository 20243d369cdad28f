//! The power-cut scenario, shared by `tests/power_cut.rs` (a few cuts) and
//! `benches/power_cut.rs` (a hundred and more).
//!
//! One round: the real server runs with its data directory on a [`Mounted`] power-cut disk,
//! clients on loopback send small tips and multi-MiB attachments, the power is cut at a random
//! moment (drawn from the seed), the server is SIGKILLed, the disk is booted again from what was
//! durable, and the server starts on it (running its start-up clean-up). Then every submission
//! the server acknowledged must be there and open, with the real age identity, to exactly what
//! was sent; and nothing unacknowledged may be left half: no row without its blobs, no blob
//! without its row, nothing left in `incoming/`. A disk carries several rounds (what one round
//! acknowledged is checked again after every later cut on it), then a fresh one is made.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use sealdrop_powercut::{Mounted, SyncfsBridge};

use crate::common::{files_under, Conn, Multipart, Response, Server, Setup};

pub struct Settings {
    pub cuts: usize,
    pub seed: u64,
    /// Rounds on one disk before a fresh one (bounds the memory the in-memory disk holds).
    pub cuts_per_disk: usize,
    pub small_clients: usize,
    pub large_clients: usize,
    /// Longest a round's load runs before its cut (the cut falls uniformly inside it).
    pub longest_round: Duration,
    /// Print one line per cut.
    pub verbose: bool,
}

/// What a series of cuts found.
#[derive(Debug, Default)]
pub struct Figures {
    pub cuts: usize,
    /// Submissions whose client got the "received" page.
    pub acknowledged: usize,
    /// Acknowledged submissions missing, or not opening to exactly what was sent, after a cut.
    pub lost: usize,
    /// Pieces of unacknowledged (or broken) submissions left after start-up clean-up.
    pub debris: usize,
    /// Submissions whose answer never reached the client but which were stored whole (allowed:
    /// the commit finished just before the cut).
    pub whole_unacknowledged: usize,
    /// Submissions sent and never acknowledged.
    pub unacknowledged: usize,
    /// `syncfs` calls the server made (passed on to the disk by the bridge).
    pub syncfs_calls: u64,
    pub file_fsyncs: u64,
    pub dir_fsyncs: u64,
    /// The first problems found, described.
    pub problems: Vec<String>,
}

impl Figures {
    fn problem(&mut self, what: String) {
        if self.problems.len() < 20 {
            self.problems.push(what);
        }
    }
}

/// One file of a submission: its content is made again from its seed to compare.
#[derive(Clone)]
struct FileSpec {
    name: String,
    seed: u64,
    len: usize,
}

impl FileSpec {
    fn content(&self) -> Vec<u8> {
        let mut data = vec![0; self.len];
        StdRng::seed_from_u64(self.seed).fill_bytes(&mut data);
        data
    }
}

struct Sent {
    message: String,
    files: Vec<FileSpec>,
    acknowledged: bool,
}

pub fn run(settings: &Settings) -> Figures {
    sealdrop_powercut::check_fuse().unwrap_or_else(|e| panic!("{e}"));
    let mut figures = Figures::default();
    let mut rng = StdRng::seed_from_u64(settings.seed);
    while figures.cuts < settings.cuts {
        let rounds = settings.cuts_per_disk.min(settings.cuts - figures.cuts);
        run_disk(settings, rounds, &mut rng, &mut figures);
    }
    figures
}

/// A fresh disk and a fresh installation on it, through `rounds` cuts.
fn run_disk(settings: &Settings, rounds: usize, rng: &mut StdRng, figures: &mut Figures) {
    let mut setup = quick_limits(Setup::new());
    let mountpoint = setup.root.path().join("disk");
    std::fs::create_dir(&mountpoint).unwrap();
    let data_dir = mountpoint.join("data");
    setup.set("SEALDROP_DATA_DIR", data_dir.to_str().unwrap());
    setup.data_dir = data_dir;
    let mut disk = Some(Mounted::fresh(&mountpoint).unwrap_or_else(|e| panic!("{e}")));
    let mut sent: Vec<Sent> = Vec::new();
    // Pieces of debris already counted on this disk (a broken row stays until someone removes it).
    let mut debris_seen = BTreeSet::new();
    for round in 0..rounds {
        let mounted = disk.take().expect("mounted");
        let (server, bridge) = start(&setup, &mounted);
        let delay = rng.gen_range(Duration::ZERO..settings.longest_round);
        let round_seed = rng.gen();
        // A fresh installation starts quiet; later rounds are quiet one time in three.
        let load = if round == 0 || rng.gen_ratio(1, 3) {
            Load::Quiet
        } else {
            Load::Busy
        };
        let addr = server.addr;
        let this_round = load_until_cut(settings, load, addr, round_seed, delay, || {
            mounted.cut();
            server.kill_hard();
        });
        figures.syncfs_calls += bridge.served();
        drop(bridge);
        let flushes = mounted.switch().flushes();
        figures.file_fsyncs += flushes.files;
        figures.dir_fsyncs += flushes.dirs;
        figures.cuts += 1;
        let acked_now = this_round.iter().filter(|s| s.acknowledged).count();
        figures.acknowledged += acked_now;
        figures.unacknowledged += this_round.len() - acked_now;
        sent.extend(this_round);

        let rebooted = mounted.reboot().unwrap_or_else(|e| panic!("{e}"));
        let (server, bridge) = start(&setup, &rebooted);
        let (lost_before, debris_before) = (figures.lost, figures.debris);
        check(&setup, &mut sent, &mut debris_seen, figures);
        if settings.verbose {
            println!(
                "cut {:>4} after {:>5} ms of {load:?} load: {acked_now:>3} acknowledged this round, \
                 {:>4} on this disk; lost {}, debris {}",
                figures.cuts,
                delay.as_millis(),
                sent.iter().filter(|s| s.acknowledged).count(),
                figures.lost - lost_before,
                figures.debris - debris_before,
            );
        }
        server.kill_hard();
        figures.syncfs_calls += bridge.served();
        drop(bridge);
        disk = Some(rebooted);
    }
}

/// Limits that let the clients run flat out on loopback.
fn quick_limits(setup: Setup) -> Setup {
    setup
        .with("SEALDROP_PER_CIRCUIT_UPLOADS", "64")
        .with("SEALDROP_PER_CIRCUIT_CONNECTIONS", "128")
        .with("SEALDROP_PER_CIRCUIT_REQUESTS_PER_MINUTE", "1000000")
}

/// Start the server on the mounted disk, its `syncfs` calls passed on to the disk.
fn start<'a>(setup: &'a Setup, disk: &Mounted) -> (Server<'a>, SyncfsBridge) {
    let mut bridge = None;
    let server = setup.start_with(|cmd| {
        bridge = Some(SyncfsBridge::attach(cmd, disk.switch()).expect("the syncfs bridge"));
    });
    (server, bridge.expect("attached"))
}

/// What the clients do until the cut.
#[derive(Debug, Clone, Copy)]
enum Load {
    /// One client sending message-only tips, one at a time: every commit holds one blob, which
    /// the server flushes with its own fsync (an idle server's path).
    Quiet,
    /// Every client at once, small tips and multi-MiB attachments: batches of many blobs,
    /// flushed with one syncfs.
    Busy,
}

/// Run the clients; after `delay`, call `cut` (which cuts the power and kills the server) and
/// collect what every client sent and heard.
fn load_until_cut(
    settings: &Settings,
    load: Load,
    addr: SocketAddr,
    seed: u64,
    delay: Duration,
    cut: impl FnOnce(),
) -> Vec<Sent> {
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let (small, large) = match load {
        Load::Quiet => (1, 0),
        Load::Busy => (settings.small_clients, settings.large_clients),
    };
    let quiet = matches!(load, Load::Quiet);
    let clients: Vec<_> = (0..small + large)
        .map(|i| {
            let kind = match (quiet, i >= small) {
                (true, _) => Client::MessageOnly,
                (false, false) => Client::Small,
                (false, true) => Client::Large,
            };
            let (stop, sent) = (stop.clone(), sent.clone());
            let seed = seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            thread::spawn(move || client(addr, kind, seed, &stop, &sent))
        })
        .collect();
    thread::sleep(delay);
    cut();
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().expect("a client thread panicked");
    }
    Arc::try_unwrap(sent)
        .ok()
        .expect("clients are done")
        .into_inner()
        .unwrap()
}

#[derive(Clone, Copy)]
enum Client {
    MessageOnly,
    /// Up to two files of up to 20 kB.
    Small,
    /// One file of 1 to 5 MiB.
    Large,
}

/// Send submissions one after another until told to stop or the server is gone.
fn client(addr: SocketAddr, kind: Client, seed: u64, stop: &AtomicBool, out: &Mutex<Vec<Sent>>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let words = "word ".repeat(rng.gen_range(1..40));
        let message = format!("power cut {seed:016x} tip {n}: {}", words.trim_end());
        let files: Vec<FileSpec> = match kind {
            Client::MessageOnly => Vec::new(),
            Client::Small => (0..rng.gen_range(0..3))
                .map(|k| FileSpec {
                    name: format!("note-{n}-{k}.txt"),
                    seed: rng.gen(),
                    len: rng.gen_range(1..20_000),
                })
                .collect(),
            // Past the writer's first MiB, so its disk thread and padded last buffer run too.
            Client::Large => vec![FileSpec {
                name: format!("evidence-{n}.bin"),
                seed: rng.gen(),
                len: rng.gen_range((1 << 20)..(5 << 20)),
            }],
        };
        let mut form = Multipart::new()
            .text("message", &message)
            .text("contact", "");
        for f in &files {
            form = form.file("files", &f.name, "application/octet-stream", &f.content());
        }
        let response = try_post(addr, &form);
        let acknowledged = response.is_some_and(|r| {
            // A stored submission answers 303 to the received page (post/redirect/get).
            r.status == 303
                && r.header("location")
                    .is_some_and(|l| l.starts_with("/received"))
        });
        let failed = !acknowledged;
        out.lock().unwrap().push(Sent {
            message,
            files,
            acknowledged,
        });
        if failed {
            // The power is out (or going): nothing more will be received.
            break;
        }
    }
}

/// POST a form; `None` if the connection failed or closed without a whole answer.
fn try_post(addr: SocketAddr, form: &Multipart) -> Option<Response> {
    let stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    let mut writer = stream.try_clone().ok()?;
    let mut request = format!(
        "POST /submit HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {}\r\n\
         Content-Length: {}\r\n\r\n",
        form.content_type(),
        form.body().len()
    )
    .into_bytes();
    request.extend_from_slice(&form.body());
    let sender = thread::spawn(move || {
        for chunk in request.chunks(64 * 1024) {
            if writer.write_all(chunk).is_err() {
                return;
            }
        }
    });
    let mut conn = Conn { stream };
    let response = conn.read_response();
    let _ = sender.join();
    response
}

/// After a reboot and the server's start-up: compare what is stored with what was sent.
fn check(
    setup: &Setup,
    sent: &mut [Sent],
    debris_seen: &mut BTreeSet<String>,
    figures: &mut Figures,
) {
    // Each piece is counted (and described) the first time it is found.
    let mut debris = |figures: &mut Figures, key: String, what: String| {
        if debris_seen.insert(key) {
            figures.debris += 1;
            figures.problem(what);
        }
    };
    // The server cleaned up before it listened; incoming/ holds only what it writes since.
    for leftover in files_under(&setup.incoming_dir()) {
        let what = format!("left in incoming/ after start-up: {}", leftover.display());
        debris(figures, what.clone(), what);
    }
    let rows = setup.submissions();
    let blob_rows = setup.blob_rows();
    let mut files: BTreeSet<String> = files_under(&setup.blobs_dir())
        .iter()
        .filter_map(|p| {
            p.file_name()?
                .to_str()?
                .strip_suffix(".age")
                .map(str::to_owned)
        })
        .collect();
    let mut blobs_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for b in &blob_rows {
        blobs_of.entry(&b.submission_id).or_default().push(&b.id);
        if !files.remove(&b.id) {
            let what = format!("blob row {} has no file in blobs/", b.id);
            debris(figures, b.id.clone(), what);
        }
    }
    for orphan in files {
        let what = format!("blob file {orphan}.age has no row after start-up");
        debris(figures, orphan, what);
    }
    let by_message: BTreeMap<&str, usize> = sent
        .iter()
        .enumerate()
        .map(|(i, s)| (s.message.as_str(), i))
        .collect();
    let mut stored_whole = vec![false; sent.len()];
    for row in &rows {
        match open_row(setup, row.envelope_blob.as_str(), &blobs_of, &row.id) {
            Err(why) => {
                let what = format!("submission {} is not whole: {why}", row.id);
                debris(figures, row.id.clone(), what);
            }
            Ok((message, attachments)) => match by_message.get(message.as_str()) {
                None => {
                    let what = format!("submission {} was never sent: {message:?}", row.id);
                    debris(figures, row.id.clone(), what);
                }
                Some(&i) => {
                    let expected: Attachments = sent[i]
                        .files
                        .iter()
                        .map(|f| (f.name.clone(), f.content()))
                        .collect();
                    if attachments == expected {
                        stored_whole[i] = true;
                    } else {
                        let what = format!(
                            "submission {} opens to other attachments than were sent",
                            row.id
                        );
                        debris(figures, row.id.clone(), what);
                    }
                }
            },
        }
    }
    for (i, s) in sent.iter_mut().enumerate() {
        if s.acknowledged && !stored_whole[i] {
            figures.lost += 1;
            figures.problem(format!(
                "acknowledged and lost: {:?} with {} file(s) of {} bytes",
                s.message,
                s.files.len(),
                s.files.iter().map(|f| f.len).sum::<usize>()
            ));
            // Counted once: from now on it is only what was lost.
            s.acknowledged = false;
            s.message.push_str(" (lost)");
        } else if !s.acknowledged && stored_whole[i] && !s.message.ends_with(" (lost)") {
            figures.whole_unacknowledged += 1;
            // Counted once; later cuts check it like an acknowledged one (it was stored whole).
            s.acknowledged = true;
        }
    }
}

/// Attachments as stored or sent: name and content.
type Attachments = Vec<(String, Vec<u8>)>;

/// Open a stored submission: its message and its attachments, or why not.
fn open_row(
    setup: &Setup,
    envelope_blob: &str,
    blobs_of: &HashMap<&str, Vec<&str>>,
    submission_id: &str,
) -> Result<(String, Attachments), String> {
    let own: BTreeSet<&str> = blobs_of
        .get(submission_id)
        .map(|v| v.iter().copied().collect())
        .unwrap_or_default();
    if !own.contains(envelope_blob) {
        return Err(format!("its envelope {envelope_blob} has no blob row"));
    }
    let plain = decrypt(setup, envelope_blob)?;
    let json_len = plain.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    let envelope: serde_json::Value =
        serde_json::from_slice(&plain[..json_len]).map_err(|e| format!("envelope: {e}"))?;
    let message = envelope["fields"]["message"]
        .as_str()
        .ok_or("no message in the envelope")?
        .to_owned();
    let mut attachments = Vec::new();
    for a in envelope["attachments"]
        .as_array()
        .ok_or("no attachment list")?
    {
        let blob = a["blob"].as_str().ok_or("attachment without blob")?;
        if !own.contains(blob) {
            return Err(format!("attachment {blob} has no blob row"));
        }
        let length = a["length"].as_u64().ok_or("attachment without length")? as usize;
        let padded = decrypt(setup, blob)?;
        if padded.len() < length {
            return Err(format!("attachment {blob} is short"));
        }
        let name = a["name"].as_str().ok_or("attachment without name")?;
        attachments.push((name.to_owned(), padded[..length].to_vec()));
    }
    if own.len() != attachments.len() + 1 {
        return Err("more blob rows than its envelope names".into());
    }
    Ok((message, attachments))
}

/// Decrypt a stored blob with the staff identity, or say why it does not open.
fn decrypt(setup: &Setup, blob: &str) -> Result<Vec<u8>, String> {
    let path = setup.blobs_dir().join(format!("{blob}.age"));
    open_age(&setup.identity, &path).map_err(|e| format!("{blob}: {e}"))
}

fn open_age(identity: &age::x25519::Identity, path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let decryptor = age::Decryptor::new(BufReader::new(file)).map_err(|e| e.to_string())?;
    let mut reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| e.to_string())?;
    let mut plain = Vec::new();
    reader.read_to_end(&mut plain).map_err(|e| e.to_string())?;
    Ok(plain)
}
