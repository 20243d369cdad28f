//! Nothing typed is lost, in both engines a source may use: Chromium, and Firefox ESR (Tor
//! Browser's engine) set like Tor Browser at "Safest" (JavaScript off, private browsing, no disk
//! cache), on a 360-px screen. A refused form comes back with the text, Back after it still
//! holds the text, a second send from the refused form works, and a reload of the received page
//! sends nothing again (post/redirect/get), counted in the real store. Then the whole flow in
//! Russian in Firefox, with the received page switching language without leaving it.

mod browser_support;
mod common;

use std::path::Path;
use std::time::Duration;

use browser_support::*;
use common::*;

/// The Turkmen form's heading.
const TK_FORM: &str = "Näme bolandygyny bize aýdyň";

fn wait_for_title(driver: &Driver, prefix: &str) {
    let ok = wait_until(Duration::from_secs(30), || {
        driver.title().starts_with(prefix)
    });
    assert!(
        ok,
        "waited for {prefix:?}; the title is {:?}",
        driver.title()
    );
}

fn start(browser: Browser, setup: &Setup) -> Driver {
    let profile = setup.root.path().join("browser-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let driver = Driver::start_browser(browser, &profile);
    // JavaScript really is off.
    driver.go("data:text/html,<title>nojs</title><script>document.title='js'</script>");
    assert_eq!(
        driver.title(),
        "nojs",
        "{browser:?}: JavaScript must be off"
    );
    driver
}

fn write_files(dir: &Path, names: &[&str]) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    names
        .iter()
        .map(|name| {
            let path = dir.join(name);
            std::fs::write(&path, format!("evidence in {name}\n").repeat(20)).unwrap();
            path.display().to_string()
        })
        .collect()
}

fn field_values(driver: &Driver) -> (String, String) {
    let message = driver.find("css selector", "textarea#message");
    let contact = driver.find("css selector", "input#contact");
    (driver.value(&message), driver.value(&contact))
}

fn assert_phone_width(browser: Browser, driver: &Driver) {
    let width = driver.viewport_width();
    assert!(
        width <= WIDTH as f64 && width >= WIDTH as f64 - 20.0,
        "{browser:?}: the viewport should be {WIDTH} px wide, it is {width}"
    );
}

fn nothing_typed_is_lost(browser: Browser) {
    let setup = Setup::new().small_limits().with("SEALDROP_MAX_FILES", "1");
    let server = setup.start();
    let driver = start(browser, &setup);
    let base = format!("http://{}", server.addr);
    let files = write_files(
        &setup.root.path().join("to-send"),
        &["one.txt", "two <2>.txt"],
    );

    driver.go(&format!("{base}/"));
    wait_for_title(&driver, "Tell us what happened");
    assert_phone_width(browser, &driver);
    let message = "My brother was taken last night.\nThree men, a white car.";
    let contact = "@sister_of_A";
    driver.type_into(&driver.find("css selector", "textarea#message"), message);
    driver.type_into(&driver.find("css selector", "input#contact"), contact);
    let input = driver.find("css selector", "input[type=file]#files");
    driver.type_into(&input, &files.join("\n"));
    driver.click(&driver.find("css selector", "form button[type=submit]"));

    // The refused form: the text is back, and the files to choose again are named.
    wait_for_title(&driver, "Too many files");
    assert_eq!(
        field_values(&driver),
        (message.to_owned(), contact.to_owned()),
        "{browser:?}: the refused form holds the text"
    );
    let page = driver.source();
    assert!(page.contains("Your report was not sent"), "{browser:?}");
    assert!(page.contains("Files to choose again: 2"), "{browser:?}");
    assert!(page.contains("two &lt;2&gt;.txt"), "{browser:?}: {page}");

    // Back: the form the source typed into still holds the text.
    driver.back();
    wait_for_title(&driver, "Tell us what happened");
    assert_eq!(
        field_values(&driver),
        (message.to_owned(), contact.to_owned()),
        "{browser:?}: Back after an error must keep the text"
    );

    // Forward again to the refused form, choose one file, and send from it.
    driver.go(&format!("{base}/"));
    wait_for_title(&driver, "Tell us what happened");
    driver.type_into(&driver.find("css selector", "textarea#message"), message);
    driver.type_into(&driver.find("css selector", "input#contact"), contact);
    driver.type_into(
        &driver.find("css selector", "input[type=file]#files"),
        &files.join("\n"),
    );
    driver.click(&driver.find("css selector", "form button[type=submit]"));
    wait_for_title(&driver, "Too many files");
    driver.type_into(
        &driver.find("css selector", "input[type=file]#files"),
        &files[0],
    );
    driver.click(&driver.find("css selector", "form button[type=submit]"));
    wait_for_title(&driver, "Received. Thank you.");
    assert!(
        driver.url().ends_with("/received?lang=en"),
        "{}",
        driver.url()
    );
    assert!(driver.source().contains("Files received: 1"), "{browser:?}");

    // Reload the received page twice: still one submission in the store.
    driver.refresh();
    wait_for_title(&driver, "Received. Thank you.");
    driver.refresh();
    wait_for_title(&driver, "Received. Thank you.");
    assert_eq!(
        setup.submissions().len(),
        1,
        "{browser:?}: a reload sent again"
    );
    assert_eq!(
        setup.blob_rows().len(),
        2,
        "{browser:?}: one envelope, one file"
    );
    let (_, opened) = setup.only_submission();
    assert_eq!(
        opened.field("message"),
        Some(message.replace('\n', "\r\n").as_str())
    );
    assert_eq!(opened.field("contact"), Some(contact));
    assert_eq!(opened.attachments.len(), 1);
    assert_eq!(opened.attachments[0].name, "one.txt");
}

fn whole_flow_in_russian(browser: Browser) {
    let setup = Setup::new();
    let server = setup.start();
    let driver = start(browser, &setup);
    let base = format!("http://{}", server.addr);
    let files = write_files(
        &setup.root.path().join("to-send"),
        &["заметки.txt", "фото 1.jpg"],
    );

    driver.go(&format!("{base}/"));
    wait_for_title(&driver, "Tell us what happened");
    driver.click(&driver.find("link text", "Русский"));
    wait_for_title(&driver, "Расскажите, что произошло");
    assert_phone_width(browser, &driver);
    let page = driver.source();
    assert!(
        page.contains("(обязательно)"),
        "the required field is marked in words"
    );
    assert!(
        page.contains("выберите их все сразу"),
        "how to choose several files"
    );

    // An empty message first: the server answers in Russian, and the contact stays.
    driver.type_into(
        &driver.find("css selector", "input#contact"),
        "в Telegram: @sestra",
    );
    driver.click(&driver.find("css selector", "form button[type=submit]"));
    wait_for_title(&driver, "Сообщение пустое");
    assert!(driver.source().contains("Ваше сообщение не отправлено"));
    assert_eq!(field_values(&driver).1, "в Telegram: @sestra");
    // The language switch of a form that came back keeps what was typed (it sends it along).
    driver.click(&driver.find("css selector", "nav button[lang=tk]"));
    wait_for_title(&driver, TK_FORM);
    assert!(driver.url().contains("/submit?lang=tk"), "{}", driver.url());
    assert_eq!(
        field_values(&driver).1,
        "в Telegram: @sestra",
        "{browser:?}"
    );
    driver.click(&driver.find("css selector", "nav button[lang=ru]"));
    wait_for_title(&driver, "Расскажите, что произошло");
    assert_eq!(
        field_values(&driver).1,
        "в Telegram: @sestra",
        "{browser:?}"
    );

    let message = "Моего брата задержали вчера вечером.\nСвидетели есть.";
    driver.type_into(&driver.find("css selector", "textarea#message"), message);
    driver.type_into(
        &driver.find("css selector", "input[type=file]#files"),
        &files.join("\n"),
    );
    driver.click(&driver.find("css selector", "form button[type=submit]"));
    wait_for_title(&driver, "Получено. Спасибо.");
    assert!(
        driver.url().ends_with("/received?lang=ru"),
        "{}",
        driver.url()
    );
    assert!(driver.source().contains("Получено файлов: 2"));

    // The language switch keeps the received page.
    driver.click(&driver.find("link text", "Тоҷикӣ"));
    wait_for_title(&driver, "Қабул шуд. Ташаккур.");
    assert!(
        driver.url().ends_with("/received?lang=tg"),
        "{}",
        driver.url()
    );
    driver.refresh();
    wait_for_title(&driver, "Қабул шуд. Ташаккур.");

    assert_eq!(setup.submissions().len(), 1, "{browser:?}");
    let (_, opened) = setup.only_submission();
    assert_eq!(
        opened.field("message"),
        Some(message.replace('\n', "\r\n").as_str())
    );
    assert_eq!(opened.field("contact"), Some("в Telegram: @sestra"));
    let names: Vec<&str> = opened.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["заметки.txt", "фото 1.jpg"]);
}

#[test]
fn chromium_keeps_what_was_typed_through_errors_back_and_reloads() {
    nothing_typed_is_lost(Browser::Chromium);
}

#[test]
fn firefox_keeps_what_was_typed_through_errors_back_and_reloads() {
    nothing_typed_is_lost(Browser::Firefox);
}

#[test]
fn chromium_whole_flow_in_russian() {
    whole_flow_in_russian(Browser::Chromium);
}

#[test]
fn firefox_whole_flow_in_russian() {
    whole_flow_in_russian(Browser::Firefox);
}
