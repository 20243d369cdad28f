//! A real browser with JavaScript OFF, on a 360-px-wide screen: Debian's Chromium driven by
//! chromedriver over W3C WebDriver (raw HTTP and JSON). A source switches the page to Russian,
//! writes, attaches two files, sends, and sees the Russian "received" page; staff decrypt
//! exactly what was typed and attached.

mod browser_support;
mod common;

use std::path::PathBuf;
use std::time::Duration;

use browser_support::*;
use common::*;

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
