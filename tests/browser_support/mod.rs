//! Shared by the real-browser tests: Debian's Chromium driven by chromedriver, and Firefox ESR
//! (the engine of Tor Browser) driven by geckodriver, over W3C WebDriver (raw HTTP and JSON),
//! with JavaScript off and a 360-px-wide phone screen.
#![allow(dead_code)]

pub mod audit;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{exchange, wait_until};

pub const WIDTH: u64 = 360;
/// Firefox's window width (its toolbars' own minimum, 500 px, is lifted by `userChrome.css`).
const FIREFOX_WINDOW: u64 = WIDTH;

pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// The browser itself: Debian's launcher script execs this binary.
pub fn chromium_binary() -> PathBuf {
    let real = Path::new("/usr/lib/chromium/chromium");
    if real.is_file() {
        return real.to_owned();
    }
    which("chromium").unwrap_or_else(|| {
        panic!("Chromium is missing: install the Debian packages `chromium chromium-driver`")
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The two engines the pages are tested in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Chromium,
    /// Firefox ESR, set like Tor Browser at "Safest": JavaScript off, permanent private
    /// browsing, no disk cache, English asked for.
    Firefox,
}

impl Browser {
    pub const BOTH: [Browser; 2] = [Browser::Chromium, Browser::Firefox];
}

/// A WebDriver server (chromedriver or geckodriver) and one browser session; both ended on drop.
pub struct Driver {
    process: Child,
    addr: SocketAddr,
    session: Option<String>,
}

impl Driver {
    /// Wait until the WebDriver server just started on `port` answers that it is ready.
    fn connect(process: Child, port: u16, name: &str) -> Driver {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let driver = Driver {
            process,
            addr,
            session: None,
        };
        let ready = wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(addr).is_ok()
                && driver.call("GET", "/status", None)["ready"] == true
        });
        assert!(ready, "{name} did not become ready");
        driver
    }

    pub fn start(profile: &Path) -> Driver {
        Driver::start_with(profile, false)
    }

    /// A session in `browser`, JavaScript off, 360 px wide.
    pub fn start_browser(browser: Browser, profile: &Path) -> Driver {
        match browser {
            Browser::Chromium => Driver::start(profile),
            Browser::Firefox => Driver::start_firefox(profile),
        }
    }

    /// Firefox ESR through geckodriver.
    pub fn start_firefox(profile: &Path) -> Driver {
        let geckodriver = which("geckodriver").unwrap_or_else(|| {
            panic!(
                "geckodriver is missing: install it with `cargo install geckodriver --locked` \
                 (and the Debian package `firefox-esr`)"
            )
        });
        let binary = which("firefox-esr").unwrap_or_else(|| {
            panic!("Firefox ESR is missing: install the Debian package `firefox-esr`")
        });
        let port = free_port();
        let home = profile.parent().unwrap();
        // Firefox keeps its window at least as wide as its toolbars want (500 px); a phone's
        // 360 px needs that minimum lifted.
        std::fs::create_dir_all(profile.join("chrome")).unwrap();
        std::fs::write(
            profile.join("chrome/userChrome.css"),
            ":root, #main-window, #navigator-toolbox, #nav-bar, #TabsToolbar, \
             #urlbar-container, #urlbar, toolbar, hbox, vbox, toolbarbutton \
             { min-width: 0 !important; }\n",
        )
        .unwrap();
        std::fs::write(
            profile.join("user.js"),
            "user_pref(\"toolkit.legacyUserProfileCustomizations.stylesheets\", true);\n",
        )
        .unwrap();
        let process = Command::new(geckodriver)
            .env("HOME", home)
            .env("MOZ_HEADLESS", "1")
            .env("MOZ_HEADLESS_WIDTH", FIREFOX_WINDOW.to_string())
            .env("MOZ_HEADLESS_HEIGHT", "2300")
            .arg(format!("--port={port}"))
            .arg("--host=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting geckodriver");
        let mut driver = Driver::connect(process, port, "geckodriver");
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "firefox",
                    "moz:firefoxOptions": {
                        "binary": binary,
                        "args": ["-headless", "-profile", profile, "--width", FIREFOX_WINDOW.to_string(), "--height", "2300"],
                        "prefs": {
                            // As Tor Browser at "Safest": no script, nothing kept on disk.
                            "javascript.enabled": false,
                            "browser.privatebrowsing.autostart": true,
                            "browser.cache.disk.enable": false,
                            "intl.accept_languages": "en-US, en",
                            "toolkit.legacyUserProfileCustomizations.stylesheets": true,
                            "browser.shell.checkDefaultBrowser": false,
                            "app.update.enabled": false,
                            "toolkit.telemetry.enabled": false,
                            "datareporting.policy.dataSubmissionEnabled": false,
                            "network.captive-portal-service.enabled": false,
                            "network.connectivity-service.enabled": false
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

    pub fn refresh(&self) {
        self.call("POST", &self.s("/refresh"), Some(json!({})));
    }

    /// The value of a form field as the browser holds it (a property, not the attribute).
    pub fn value(&self, element: &str) -> String {
        self.call(
            "GET",
            &self.s(&format!("/element/{element}/property/value")),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// The viewport's width in CSS pixels (the `html` element's).
    pub fn viewport_width(&self) -> f64 {
        let html = self.find("css selector", "html");
        self.rect(&html).2
    }

    /// As `start`; with `log_network`, chromedriver keeps the browser's DevTools network
    /// events (read with `network_requests`).
    pub fn start_with(profile: &Path, log_network: bool) -> Driver {
        Driver::launch(profile, log_network, false)
    }

    /// As `start`, but with script allowed, for the axe-core audit only (`audit.rs`): axe
    /// needs timers and promises. The pages carry no script of their own, and their CSP forbids
    /// any.
    pub fn start_for_audit(profile: &Path) -> Driver {
        Driver::launch(profile, false, true)
    }

    fn launch(profile: &Path, log_network: bool, allow_script: bool) -> Driver {
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
        let mut driver = Driver::connect(process, port, "chromedriver");
        let mut caps = json!({
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
                            "profile.managed_default_content_settings.javascript": if allow_script { 1 } else { 2 }
                        }
                    }
                }
            }
        });
        if log_network {
            caps["capabilities"]["alwaysMatch"]["goog:loggingPrefs"] =
                json!({ "performance": "ALL" });
        }
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
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
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

    pub fn s(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session.as_ref().unwrap())
    }

    pub fn go(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({ "url": url })));
    }

    pub fn title(&self) -> String {
        self.call("GET", &self.s("/title"), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn url(&self) -> String {
        self.call("GET", &self.s("/url"), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn find_all(&self, using: &str, value: &str) -> Vec<String> {
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

    pub fn find(&self, using: &str, value: &str) -> String {
        let all = self.find_all(using, value);
        assert_eq!(all.len(), 1, "exactly one element for {using} {value:?}");
        all.into_iter().next().unwrap()
    }

    pub fn click(&self, element: &str) {
        self.call(
            "POST",
            &self.s(&format!("/element/{element}/click")),
            Some(json!({})),
        );
    }

    pub fn type_into(&self, element: &str, text: &str) {
        self.call(
            "POST",
            &self.s(&format!("/element/{element}/value")),
            Some(json!({ "text": text })),
        );
    }

    /// (x, y, width, height) of an element, in CSS pixels.
    pub fn rect(&self, element: &str) -> (f64, f64, f64, f64) {
        let r = self.call("GET", &self.s(&format!("/element/{element}/rect")), None);
        let f = |k: &str| r[k].as_f64().unwrap();
        (f("x"), f("y"), f("width"), f("height"))
    }

    pub fn tag(&self, element: &str) -> String {
        self.call("GET", &self.s(&format!("/element/{element}/name")), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn back(&self) {
        self.call("POST", &self.s("/back"), Some(json!({})));
    }

    pub fn text(&self, element: &str) -> String {
        self.call("GET", &self.s(&format!("/element/{element}/text")), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn attribute(&self, element: &str, name: &str) -> Option<String> {
        self.call(
            "GET",
            &self.s(&format!("/element/{element}/attribute/{name}")),
            None,
        )
        .as_str()
        .map(str::to_owned)
    }

    /// The page as the browser holds it.
    pub fn source(&self) -> String {
        self.call("GET", &self.s("/source"), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Every cookie the browser holds for the current page (HttpOnly ones too).
    pub fn cookies(&self) -> Vec<Value> {
        self.call("GET", &self.s("/cookie"), None)
            .as_array()
            .unwrap()
            .clone()
    }

    /// Every request the browser sent since the last call, as (URL of the document that asked,
    /// URL asked for) (needs `log_network`).
    pub fn network_requests(&self) -> Vec<(String, String)> {
        let entries = self.call(
            "POST",
            &self.s("/se/log"),
            Some(json!({ "type": "performance" })),
        );
        let mut urls = Vec::new();
        for entry in entries.as_array().unwrap() {
            let message: Value = serde_json::from_str(entry["message"].as_str().unwrap()).unwrap();
            let message = &message["message"];
            if message["method"] == "Network.requestWillBeSent" {
                let params = &message["params"];
                let document = params["documentURL"].as_str().unwrap_or_default();
                let url = params["request"]["url"].as_str().unwrap_or_default();
                urls.push((document.to_owned(), url.to_owned()));
            }
        }
        urls
    }

    pub fn screenshot(&self, path: &Path) {
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
pub fn base64_decode(text: &str) -> Vec<u8> {
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
