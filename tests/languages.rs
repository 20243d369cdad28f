//! Every page language through the real server: the `lang` and `dir` attributes, BCP 47 matching
//! of `?lang=` and `Accept-Language` (Uzbek in two scripts), numbers and sizes as each language
//! writes them (never rounded up, never broken from their unit), and the form's weight on a
//! first visit (HTML + stylesheet), printed per language.

mod common;

use common::*;

/// Every language the switch offers, with its direction. The tests build the server with the
/// `rtl-pseudo-locale` feature, so CLDR's right-to-left pseudo-locale is one of them.
const LANGS: [(&str, &str); 10] = [
    ("en", "ltr"),
    ("ru", "ltr"),
    ("uk", "ltr"),
    ("kk", "ltr"),
    ("ky", "ltr"),
    ("tg", "ltr"),
    ("tk", "ltr"),
    ("uz", "ltr"),
    ("uz-Cyrl", "ltr"),
    ("ar-XB", "rtl"),
];

/// The form's weight on a first visit must stay small for slow Tor circuits on phones.
const MAX_FIRST_VISIT: usize = 12 * 1024;

fn attribute<'a>(html: &'a str, tag_start: &str, name: &str) -> &'a str {
    let tag = &html[html
        .find(tag_start)
        .unwrap_or_else(|| panic!("no {tag_start}"))..];
    let tag = &tag[..tag.find('>').unwrap()];
    let value = &tag[tag
        .find(&format!(" {name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + name.len()
        + 3..];
    &value[..value.find('"').unwrap()]
}

#[test]
fn every_language_has_its_lang_and_dir_and_is_in_the_switch() {
    let setup = Setup::new();
    let server = setup.start();
    let form = server.get("/").text();
    let offered: Vec<&str> = form
        .match_indices("hreflang=\"")
        .map(|(i, m)| {
            let rest = &form[i + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(
        offered,
        LANGS.map(|(code, _)| code),
        "the switch offers a language this test does not check (or misses one)"
    );
    for (code, dir) in LANGS {
        for path in [
            format!("/?lang={code}"),
            format!("/codename?lang={code}"),
            format!("/no-such-page?lang={code}"),
        ] {
            let html = server.get(&path).text();
            assert_eq!(attribute(&html, "<html", "lang"), code, "{path}");
            assert_eq!(attribute(&html, "<html", "dir"), dir, "{path}");
            // Each switch link carries its own language and direction.
            let link = format!("<a href=\"/?lang={code}\"");
            assert_eq!(attribute(&html, &link, "lang"), code, "{path}");
            assert_eq!(attribute(&html, &link, "dir"), dir, "{path}");
        }
    }
}

#[test]
fn language_tags_are_matched_by_bcp47_lookup() {
    let setup = Setup::new();
    let server = setup.start();
    let lang_of = |path: &str, accept: &str| {
        let html = get_with(server.addr, path, &[("Accept-Language", accept)]).text();
        attribute(&html, "<html", "lang").to_owned()
    };
    assert_eq!(lang_of("/?lang=UZ-CYRL", "en-US"), "uz-Cyrl");
    assert_eq!(lang_of("/?lang=uz-Cyrl-UZ", "en-US"), "uz-Cyrl");
    assert_eq!(lang_of("/?lang=uz-Latn", "en-US"), "uz");
    assert_eq!(lang_of("/", "uz-Cyrl-UZ,uz;q=0.8"), "uz-Cyrl");
    assert_eq!(lang_of("/", "uz-UZ"), "uz");
    assert_eq!(lang_of("/", "de, kk-KZ;q=0.5, ru;q=0.9"), "ru");
    assert_eq!(lang_of("/", "ky;q=0, uk-UA;q=0.2"), "uk");
    assert_eq!(lang_of("/", "fr-FR"), "en");
}

#[test]
fn limits_read_in_each_language_without_rounding_up_or_breaking() {
    let setup = Setup::new()
        .with("SEALDROP_MAX_FILES", "21")
        .with("SEALDROP_MAX_FILE_BYTES", "1000")
        .with("SEALDROP_MAX_SUBMISSION_BYTES", &(3 << 29).to_string());
    let server = setup.start();
    let hint = |code: &str| {
        let html = server.get(&format!("/?lang={code}")).text();
        let start = html.find("id=\"files-hint\">").expect("the files hint") + 16;
        html[start..start + html[start..].find("</p>").unwrap()].to_owned()
    };
    let nb = |s: &str| s.replace(' ', "\u{a0}");
    assert_eq!(
        hint("ru"),
        format!(
            "Фото, документы, аудио или видео. Максимум файлов: 21. Всего — до {}, один файл — до {}.",
            nb("1,5 ГБ"),
            nb("1 000 байт")
        )
    );
    assert_eq!(
        hint("en"),
        format!(
            "Photos, documents, audio or video. At most {}: {} in total, {} per file.",
            nb("21 files"),
            nb("1.5 GB"),
            nb("1,000 bytes")
        )
    );
    assert!(hint("uk").contains(&nb("1,5 ГБ")), "{}", hint("uk"));
    assert!(hint("kk").contains(&nb("21 файл.")), "{}", hint("kk"));
    assert!(hint("uz").contains("21\u{a0}ta fayl."), "{}", hint("uz"));
    assert!(
        hint("uz-Cyrl").contains(&nb("1 000 байт")),
        "{}",
        hint("uz-Cyrl")
    );
}

#[test]
fn the_form_weighs_at_most_12_kb_on_a_first_visit_in_every_language() {
    let setup = Setup::new();
    let server = setup.start();
    let mut heaviest = 0;
    for (code, _) in LANGS {
        let page = server.get(&format!("/?lang={code}"));
        assert_eq!(page.status, 200);
        let html = page.text();
        // Whatever the stylesheet is called (its name may carry a content hash).
        let stylesheet = attribute(&html, "<link rel=\"stylesheet\"", "href");
        let css = server.get(stylesheet);
        assert_eq!(css.status, 200, "{stylesheet}");
        let total = page.body.len() + css.body.len();
        println!(
            "form weight, first visit, {code}: {total} bytes (HTML {}, stylesheet {})",
            page.body.len(),
            css.body.len()
        );
        heaviest = heaviest.max(total);
        assert!(
            total <= MAX_FIRST_VISIT,
            "the {code} form weighs {total} bytes on a first visit (at most {MAX_FIRST_VISIT})"
        );
    }
    println!("heaviest form: {heaviest} bytes (limit {MAX_FIRST_VISIT})");
}

/// The CLDR data this project wrote down (number symbols) or takes from an older crate (plural
/// rules) agrees with an independent CLDR: the ICU that Debian's Node.js carries
/// (`Intl.NumberFormat`, `Intl.PluralRules`).
#[test]
fn numbers_and_plurals_agree_with_icu() {
    use sealdrop::intake::i18n::numbers::{format_integer, format_tenths, plural_category};
    use sealdrop::intake::i18n::Lang;

    let node = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("node"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("node is missing: install the Debian package `nodejs`"));
    const COUNTS: [u64; 12] = [0, 1, 2, 5, 11, 21, 22, 25, 101, 111, 1000, 1_000_001];
    const TENTHS: [u64; 6] = [15, 10, 9_999, 10_000, 12_345, 10_000_005];
    let script = format!(
        r#"const [tag, plural] = process.argv.slice(1);
const nf = new Intl.NumberFormat(tag, {{ numberingSystem: "latn", maximumFractionDigits: 1 }});
const pr = new Intl.PluralRules(plural);
console.log(JSON.stringify({{
  integers: {COUNTS:?}.map(n => nf.format(n)),
  tenths: {TENTHS:?}.map(t => nf.format(t / 10)),
  plurals: {COUNTS:?}.map(n => pr.select(n)),
  categories: pr.resolvedOptions().pluralCategories,
  cldr: process.versions.cldr,
}}));"#
    );
    for &lang in Lang::ALL {
        // The pseudo-locale's numbers are English ones.
        let tag = if lang.code() == "ar-XB" {
            "en"
        } else {
            lang.code()
        };
        let out = std::process::Command::new(&node)
            .arg("-e")
            .arg(&script)
            .arg(tag)
            .arg(lang.plural_language())
            .output()
            .expect("running node");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let icu: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let symbols = lang.number_symbols();
        let ours_integers: Vec<String> = COUNTS.map(|n| format_integer(symbols, n)).to_vec();
        let ours_tenths: Vec<String> = TENTHS.map(|t| format_tenths(symbols, t)).to_vec();
        let ours_plurals: Vec<String> = COUNTS
            .map(|n| format!("{:?}", plural_category(lang, n)).to_lowercase())
            .to_vec();
        assert_eq!(icu["integers"], serde_json::json!(ours_integers), "{tag}");
        assert_eq!(icu["tenths"], serde_json::json!(ours_tenths), "{tag}");
        assert_eq!(icu["plurals"], serde_json::json!(ours_plurals), "{tag}");
        // Tajik borrows Kazakh's rule: ICU's own Tajik rule must give the same categories.
        // (The pseudo-locale's English words take English plurals, not Arabic ones.)
        if lang.code() == "ar-XB" {
            continue;
        }
        let own = std::process::Command::new(&node)
            .arg("-e")
            .arg(&script)
            .arg(tag)
            .arg(lang.code())
            .output()
            .expect("running node");
        let own: serde_json::Value = serde_json::from_slice(&own.stdout).unwrap();
        if own["categories"] == serde_json::json!(["other"]) && lang.code() == "tg" {
            // An ICU older than CLDR's Tajik rule (Debian 12's is CLDR 42) has nothing to
            // compare with; say so rather than pass quietly.
            eprintln!(
                "ICU's CLDR {} has no Tajik plural rule: not compared",
                own["cldr"]
            );
            continue;
        }
        assert_eq!(own["plurals"], icu["plurals"], "{tag}: its own CLDR rule");
    }
}
