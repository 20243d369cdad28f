//! A real browser with JavaScript OFF, on a 360-px-wide screen: Debian's Chromium driven by
//! chromedriver over W3C WebDriver (raw HTTP and JSON). A source switches the page to Russian,
//! writes, attaches two files, sends, and sees the Russian "received" page; staff decrypt
//! exactly what was typed and attached.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const WIDTH: u64 = 360;

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// The browser itself: Debian's launcher script execs this binary.
fn chromium_binary() -> PathBuf {
    let real = Path::new("/usr/lib/chromium/chromium");
    if real.is_file() {
        return real.to_owned();
    }
    which("chromium").unwrap_or_else(|| {
        panic!("Chromium is missing: install the Debian packages `chromium chromium-driver`")
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver and one browser session; both ended on drop.
struct Driver {
    process: Child,
    addr: SocketAddr,
    session: Option<String>,
}

impl Driver {
    fn start(profile: &Path) -> Driver {
        let chromedriver = which("chromedriver").unwrap_or_else(|| {
            panic!(
                "chromedriver is missing: install the Debian packages `chromium chromium-driver`"
            )
        });
        let binary = chromium_binary();
        let port = free_port();
        // HOME inside the test's temp dir: the browser's crash reporter and caches write there.
        let home = profile.parent().unwrap();
        let process = Command::new(chromedriver)
            .env("HOME", home)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut driver = Driver {
            process,
            addr,
            session: None,
        };
        let ready = wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(addr).is_ok()
                && driver.call("GET", "/status", None)["ready"] == true
        });
        assert!(ready, "chromedriver did not become ready");
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": binary,
                        "args": [
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--no-first-run",
                            "--disable-dev-shm-usage",
                            format!("--user-data-dir={}", profile.display()),
                        ],
                        // A phone-sized viewport: headless windows cannot be narrower than
                        // 500 px, so the screen is emulated (as DevTools' device mode does).
                        // Tall, so one screenshot shows the whole form.
                        "mobileEmulation": {
                            "deviceMetrics": { "width": WIDTH, "height": 2300, "pixelRatio": 1.0, "touch": false }
                        },
                        "prefs": {
                            // JavaScript off, as a careful source sets Tor Browser ("Safest").
                            "profile.managed_default_content_settings.javascript": 2
                        }
                    }
                }
            }
        });
        let created = driver.call("POST", "/session", Some(caps));
        driver.session = Some(
            created["sessionId"]
                .as_str()
                .expect("a session id")
                .to_owned(),
        );
        driver
    }

    /// One WebDriver command; returns its `value`, failing on any WebDriver error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if method == "POST" {
            request.push_str(&format!(
                "Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        let response = exchange(self.addr, request.into_bytes()).expect("a WebDriver answer");
        let value: Value = serde_json::from_slice(&response.body).expect("WebDriver JSON");
        assert_eq!(
            response.status, 200,
            "WebDriver {method} {path} failed: {value}"
        );
        value["value"].clone()
    }

    fn s(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session.as_ref().unwrap())
    }

    fn go(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({ "url": url })));
    }

    fn title(&self) -> String {
        self.call("GET", &self.s("/title"), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn url(&self) -> String {
        self.call("GET", &self.s("/url"), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn find_all(&self, using: &str, value: &str) -> Vec<String> {
        self.call(
            "POST",
            &self.s("/elements"),
            Some(json!({ "using": using, "value": value })),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e.as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
    }

    fn find(&self, using: &str, value: &str) -> String {
        let all = self.find_all(using, value);
        assert_eq!(all.len(), 1, "exactly one element for {using} {value:?}");
        all.into_iter().next().unwrap()
    }

    fn click(&self, element: &str) {
        self.call(
            "POST",
            &self.s(&format!("/element/{element}/click")),
            Some(json!({})),
        );
    }

    fn type_into(&self, element: &str, text: &str) {
        self.call(
            "POST",
            &self.s(&format!("/element/{element}/value")),
            Some(json!({ "text": text })),
        );
    }

    /// (x, y, width, height) of an element, in CSS pixels.
    fn rect(&self, element: &str) -> (f64, f64, f64, f64) {
        let r = self.call("GET", &self.s(&format!("/element/{element}/rect")), None);
        let f = |k: &str| r[k].as_f64().unwrap();
        (f("x"), f("y"), f("width"), f("height"))
    }

    fn tag(&self, element: &str) -> String {
        self.call("GET", &self.s(&format!("/element/{element}/name")), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn screenshot(&self, path: &Path) {
        let b64 = self.call("GET", &self.s("/screenshot"), None);
        let png = base64_decode(b64.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            // Ends the browser; ignore failures while unwinding.
            let request = format!(
                "DELETE /session/{session} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                self.addr
            );
            let _ = std::panic::catch_unwind(|| exchange(self.addr, request.into_bytes()));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Standard base64 (the screenshot encoding); small enough to write rather than add a crate.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for group in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in group.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    out
}

#[test]
fn base64_decoder_is_right() {
    assert_eq!(base64_decode("aGVsbG8gd29ybGQ="), b"hello world");
    assert_eq!(base64_decode("YQ=="), b"a");
    assert_eq!(base64_decode("YWI="), b"ab");
    assert_eq!(base64_decode("YWJj"), b"abc");
}

#[test]
fn a_source_with_javascript_off_sends_a_report_in_russian_on_a_small_screen() {
    let setup = Setup::new();
    let server = setup.start();
    let profile = setup.root.path().join("browser-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let driver = Driver::start(&profile);

    // JavaScript really is off: a page whose script would retitle it keeps its own title.
    driver.go("data:text/html,<title>nojs</title><script>document.title='js'</script>");
    assert_eq!(
        driver.title(),
        "nojs",
        "JavaScript must be disabled in this browser"
    );

    // The form, in English first (the browser asks for en-US), then the visible switch.
    let base = format!("http://{}", server.addr);
    driver.go(&format!("{base}/"));
    assert!(driver.title().starts_with("Tell us what happened"));
    let russian = driver.find("link text", "Русский");
    driver.click(&russian);
    assert!(
        driver.title().starts_with("Расскажите, что произошло"),
        "title after switching: {}",
        driver.title()
    );
    assert!(driver.url().ends_with("/?lang=ru"));

    // Nothing overflows a 360-px screen: every element's right edge is inside the viewport.
    let html = driver.find("css selector", "html");
    let (_, _, html_width, _) = driver.rect(&html);
    assert!(
        html_width <= WIDTH as f64 && html_width >= WIDTH as f64 - 20.0,
        "the viewport should be {WIDTH} px wide, html is {html_width}"
    );
    let mut checked = 0;
    for element in driver.find_all("css selector", "body, body *") {
        let (x, _, width, _) = driver.rect(&element);
        if width == 0.0 {
            continue;
        }
        assert!(
            x + width <= html_width + 0.5,
            "<{}> sticks out of the {WIDTH}-px screen: x {x} + width {width}",
            driver.tag(&element)
        );
        checked += 1;
    }
    assert!(checked > 20, "only {checked} elements were measured");
    let form = driver.find("css selector", "form");
    let (form_x, _, form_width, _) = driver.rect(&form);
    assert!(form_x >= 0.0 && form_x + form_width <= html_width);

    // Fill in the form as a source would.
    let message = "Моего брата задержали вчера вечером.\nСвидетели есть.";
    let textarea = driver.find("css selector", "textarea#message");
    driver.type_into(&textarea, message);
    let files_dir = setup.root.path().join("to-send");
    std::fs::create_dir_all(&files_dir).unwrap();
    let notes = files_dir.join("заметки.txt");
    let notes_data = "имена и адреса\n".repeat(50).into_bytes();
    std::fs::write(&notes, &notes_data).unwrap();
    let photo = files_dir.join("photo 1.jpg");
    let photo_data = random_bytes(150_000);
    std::fs::write(&photo, &photo_data).unwrap();
    let input = driver.find("css selector", "input[type=file]#files");
    driver.type_into(&input, &format!("{}\n{}", notes.display(), photo.display()));

    // A look at the filled-in form on a 360-px screen (kept under target/, not committed).
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-form-360.png");
    driver.screenshot(&shot);
    eprintln!("screenshot of the form: {}", shot.display());

    let button = driver.find("css selector", "form button[type=submit]");
    driver.click(&button);
    let received = wait_until(Duration::from_secs(20), || {
        driver.title().starts_with("Получено. Спасибо.")
    });
    assert!(
        received,
        "the Russian received page should appear; title: {}",
        driver.title()
    );
    driver.screenshot(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-received-360.png"));

    // What staff decrypt is what the source typed and chose.
    let (_, opened) = setup.only_submission();
    // Browsers send a textarea's line breaks as CRLF.
    assert_eq!(
        opened.field("message"),
        Some(message.replace('\n', "\r\n").as_str())
    );
    assert_eq!(
        opened.field("contact"),
        None,
        "an empty contact is not kept"
    );
    assert_eq!(opened.attachments.len(), 2);
    let notes_att = &opened.attachments[0];
    assert_eq!(notes_att.name, "заметки.txt");
    assert_eq!(notes_att.content_type, "text/plain");
    assert!(notes_att.content() == &notes_data[..]);
    let photo_att = &opened.attachments[1];
    assert_eq!(photo_att.name, "photo 1.jpg");
    assert_eq!(photo_att.content_type, "image/jpeg");
    assert!(photo_att.content() == &photo_data[..]);
}
