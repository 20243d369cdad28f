//! Filenames from sources are hostile. Every attachment name becomes one safe, plain file name
//! inside the extraction folder, and programs and scripts are flagged before anyone opens them.

use std::collections::HashSet;

use unicode_normalization::UnicodeNormalization;

/// Longest name written, in bytes (ext4 and most others allow 255; room is kept for " (NN)").
pub const MAX_NAME_BYTES: usize = 200;
/// The name used when nothing usable is left.
pub const FALLBACK: &str = "attachment";
/// Longest extension kept when a long name is shortened, in bytes.
const MAX_EXT_BYTES: usize = 16;

/// Characters that are removed outright: invisible ones used to disguise names, such as the
/// right-to-left override that makes `invoice\u{202e}fdp.exe` look like `invoiceexe.pdf`.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{061c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// Characters replaced by `_`: controls (NUL, newline, escape...) and what Windows forbids.
fn replaced(c: char) -> bool {
    c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*')
}

/// A safe single file name for `raw`: NFC; no `/` or `\`, no `..`, no control characters, no
/// leading dots, no Windows device names or trailing dots and spaces; at most
/// [`MAX_NAME_BYTES`] bytes keeping the extension; never empty.
pub fn normalise(raw: &str) -> String {
    // Invisible characters go first: removed after NFC, they could leave a letter next to an
    // accent it had not been composed with, or marks out of canonical order, so that the
    // result was not NFC (and a second run changed it). What follows keeps NFC (the random
    // test checks it): it replaces starters with `_`, drops dots next to dots, and cuts
    // spaces, dots and whole parts at the ends.
    let nfc: String = raw.chars().filter(|&c| !invisible(c)).nfc().collect();
    // Path-like names keep their words: `../../etc/passwd` becomes `etc_passwd`.
    let parts: Vec<String> = nfc
        .split(['/', '\\'])
        .map(|part| {
            let cleaned: String = part
                .chars()
                .map(|c| if replaced(c) { '_' } else { c })
                .collect();
            collapse_dots(cleaned.trim())
        })
        .filter(|part| !part.chars().all(|c| c == '.' || c == ' '))
        .collect();
    let joined = parts.join("_");
    let mut name = trim_ends(&joined).to_owned();
    if is_windows_device(&name) {
        name.insert(0, '_');
    }
    let name = shorten(&name, MAX_NAME_BYTES);
    if name.is_empty() {
        FALLBACK.to_owned()
    } else {
        name
    }
}

/// `a..b` becomes `a.b`: no `..` anywhere in a name.
fn collapse_dots(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !(c == '.' && out.ends_with('.')) {
            out.push(c);
        }
    }
    out
}

/// No leading dots or spaces (hidden files), no trailing dots or spaces (Windows drops them).
/// Any white space counts, not only ' ', as for each part (`str::trim`): a dot cut from the start
/// must not leave white space there that a second run would cut (found by the fuzz target).
fn trim_ends(s: &str) -> &str {
    s.trim_matches(cut_at_ends)
}

/// What a name may not start or end with: dots and white space.
fn cut_at_ends(c: char) -> bool {
    c == '.' || c.is_whitespace()
}

/// CON, PRN, AUX, NUL, COM1-9, LPT1-9 (with any extension) name devices on Windows.
fn is_windows_device(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    let numbered = |prefix: &str| {
        stem.strip_prefix(prefix).is_some_and(|n| {
            matches!(
                n,
                "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
            )
        })
    };
    matches!(
        stem.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || numbered("COM")
        || numbered("LPT")
}

/// Split off a plausible extension (`.jpg`), if any.
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(at)
            if at > 0
                && name.len() - at - 1 <= MAX_EXT_BYTES
                && name[at + 1..].chars().all(char::is_alphanumeric)
                && at + 1 < name.len() =>
        {
            (&name[..at], &name[at..])
        }
        _ => (name, ""),
    }
}

/// Cut `name` to at most `max` bytes on a character boundary, keeping its extension.
fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let (stem, ext) = split_ext(name);
    let room = max - ext.len();
    let mut cut = room.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    // The same ends as the whole name was trimmed to, or a second run would trim what the cut
    // laid bare, and the name would change again.
    let stem = stem[..cut].trim_end_matches(cut_at_ends);
    format!("{stem}{ext}")
}

/// The names given out in one folder. Two names clash if they differ only in letter case or
/// Unicode form (as they would on a case-insensitive disk, or to a reader's eye).
#[derive(Default)]
pub struct NameSet {
    taken: HashSet<String>,
}

fn clash_key(name: &str) -> String {
    name.nfkc().flat_map(char::to_lowercase).collect()
}

impl NameSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// `name` if still free, otherwise `name (2).ext`, `name (3).ext`, ... Marks it taken.
    pub fn claim(&mut self, name: &str) -> String {
        let mut candidate = name.to_owned();
        let mut n = 1u32;
        while !self.taken.insert(clash_key(&candidate)) {
            n += 1;
            candidate = numbered(name, n);
        }
        candidate
    }
}

/// `stem (n).ext`, still within [`MAX_NAME_BYTES`].
pub fn numbered(name: &str, n: u32) -> String {
    let (stem, ext) = split_ext(name);
    let suffix = format!(" ({n}){ext}");
    let mut cut = stem.len().min(MAX_NAME_BYTES.saturating_sub(suffix.len()));
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &stem[..cut])
}

/// Extensions of files that run code when opened, and what each is.
const RISKY_EXTENSIONS: &[(&str, &str)] = &[
    ("exe", "a Windows program"),
    ("com", "a Windows program"),
    ("scr", "a Windows program (screen saver)"),
    ("pif", "a Windows program"),
    ("cpl", "a Windows program (control panel item)"),
    ("dll", "a Windows program library"),
    ("sys", "a Windows driver"),
    ("msi", "a Windows installer"),
    ("msp", "a Windows installer"),
    ("msix", "a Windows installer"),
    ("appx", "a Windows installer"),
    ("chm", "a Windows help file that can run code"),
    ("bat", "a Windows script"),
    ("cmd", "a Windows script"),
    ("ps1", "a PowerShell script"),
    ("psm1", "a PowerShell script"),
    ("vbs", "a Visual Basic script"),
    ("vbe", "a Visual Basic script"),
    ("js", "a JavaScript script"),
    ("jse", "a JavaScript script"),
    ("mjs", "a JavaScript script"),
    ("wsf", "a Windows script"),
    ("wsh", "a Windows script"),
    ("hta", "a Windows web application"),
    ("reg", "a Windows registry change"),
    ("inf", "a Windows setup script"),
    ("lnk", "a Windows shortcut that can start programs"),
    ("url", "an internet shortcut"),
    ("scf", "a Windows shell command file"),
    ("jar", "a Java program"),
    ("class", "a Java program"),
    ("apk", "an Android app"),
    ("xapk", "an Android app"),
    ("ipa", "an iPhone app"),
    ("app", "a macOS program"),
    ("dmg", "a macOS disk image that can hold programs"),
    ("pkg", "a macOS installer"),
    ("command", "a macOS script"),
    ("scpt", "an AppleScript"),
    ("applescript", "an AppleScript"),
    ("sh", "a shell script"),
    ("bash", "a shell script"),
    ("zsh", "a shell script"),
    ("run", "a Linux program"),
    ("bin", "a program or raw binary"),
    ("elf", "a Linux program"),
    ("so", "a Linux program library"),
    ("appimage", "a Linux program"),
    ("deb", "a Linux installer"),
    ("rpm", "a Linux installer"),
    ("desktop", "a Linux shortcut that can start programs"),
    ("py", "a Python script"),
    ("pyw", "a Python script"),
    ("pl", "a Perl script"),
    ("rb", "a Ruby script"),
    ("php", "a PHP script"),
    ("lua", "a Lua script"),
    ("docm", "a Word document with macros"),
    ("dotm", "a Word template with macros"),
    ("xlsm", "an Excel workbook with macros"),
    ("xltm", "an Excel template with macros"),
    ("xlam", "an Excel add-in with macros"),
    ("xlsb", "an Excel workbook that can hold macros"),
    ("pptm", "a PowerPoint file with macros"),
    ("potm", "a PowerPoint template with macros"),
    ("ppam", "a PowerPoint add-in with macros"),
    ("ppsm", "a PowerPoint show with macros"),
    ("sldm", "a PowerPoint slide with macros"),
    ("doc", "an old Word document, which can hold macros"),
    ("xls", "an old Excel workbook, which can hold macros"),
    ("ppt", "an old PowerPoint file, which can hold macros"),
    ("html", "a web page, which can run scripts"),
    ("htm", "a web page, which can run scripts"),
    ("xhtml", "a web page, which can run scripts"),
    ("mht", "a web archive, which can run scripts"),
    ("mhtml", "a web archive, which can run scripts"),
    ("svg", "an image format that can run scripts"),
    ("iso", "a disk image that can hold programs"),
    ("img", "a disk image that can hold programs"),
    ("vhd", "a disk image that can hold programs"),
    ("vhdx", "a disk image that can hold programs"),
];

/// Declared content types that announce a program or script.
const RISKY_TYPES: &[&str] = &[
    "application/x-msdownload",
    "application/x-dosexec",
    "application/x-executable",
    "application/x-elf",
    "application/x-mach-binary",
    "application/x-sh",
    "application/x-shellscript",
    "application/javascript",
    "text/javascript",
    "application/x-msi",
    "application/java-archive",
    "application/vnd.android.package-archive",
    "application/vnd.ms-word.document.macroenabled.12",
    "application/vnd.ms-excel.sheet.macroenabled.12",
    "application/hta",
];

/// Why a file looks like a program, a script or a macro document, judged by its name (the one
/// written), its first bytes and its declared type. `None` when nothing suggests it.
pub fn risk(name: &str, head: &[u8], declared_type: &str) -> Option<String> {
    if let Some(why) = program_magic(head) {
        return Some(why.to_owned());
    }
    let (_, ext) = split_ext(name);
    let ext = ext.trim_start_matches('.').to_lowercase();
    if let Some((_, what)) = RISKY_EXTENSIONS.iter().find(|(e, _)| *e == ext) {
        return Some(format!("its name ends in .{ext}: {what}"));
    }
    let declared = declared_type.trim().to_ascii_lowercase();
    let declared = declared.split(';').next().unwrap_or("").trim();
    if RISKY_TYPES.contains(&declared) {
        return Some(format!("the sender's browser called it {declared}"));
    }
    None
}

/// What `extract` appends to the name of a disguised program, so that it no longer opens as
/// the kind of file its name claims (letters only: it stays the extension when a long name
/// is shortened).
pub const DISGUISED_SUFFIX: &str = ".disguised";

/// Endings that open in a text editor: a script named so shows as text, harmlessly.
const TEXT_EXTENSIONS: &[&str] = &["txt", "text", "md", "log", "csv"];

/// A program or script whose name hides it: its first bytes are a program's (the table in
/// `program_magic`) but its name does not end in a program's extension (a `.jpg`, a `.pdf`, or
/// none; for a `#!` script, nor a text ending). Returns what its content is.
pub fn disguised(name: &str, head: &[u8]) -> Option<&'static str> {
    let what = program_magic(head)?;
    let (_, ext) = split_ext(name);
    let ext = ext.trim_start_matches('.').to_lowercase();
    if RISKY_EXTENSIONS.iter().any(|(e, _)| *e == ext)
        || (head.starts_with(b"#!") && TEXT_EXTENSIONS.contains(&ext.as_str()))
    {
        return None;
    }
    Some(what)
}

/// The name `extract` writes for a source's file `name` (already normalised) with content
/// starting `head`: the same, or with [`DISGUISED_SUFFIX`] for a disguised program.
pub fn extracted_name(name: &str, head: &[u8]) -> String {
    match disguised(name, head) {
        Some(_) => normalise(&format!("{name}{DISGUISED_SUFFIX}")),
        None => name.to_owned(),
    }
}

/// What a file's first bytes say it is, when that is a program or script. The magic numbers:
/// ELF (`7f 45 4c 46`, the ELF specification), MZ (`4d 5a`, the DOS/PE header Windows programs
/// start with), Mach-O (`fe ed fa ce/cf` and byte-swapped) and Java class / fat binaries
/// (`ca fe ba be`), `#!` (an interpreter line), and the Windows shortcut header (LNK,
/// `4c 00 00 00 01 14 02 00`).
fn program_magic(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x7fELF") {
        Some("its content is a Linux program (ELF)")
    } else if head.starts_with(b"MZ") {
        Some("its content is a Windows program (MZ/PE)")
    } else if [
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    ]
    .iter()
    .any(|m| head.starts_with(*m))
    {
        Some("its content is a macOS or Java program (Mach-O / class)")
    } else if head.starts_with(b"#!") {
        Some("its content is a script (it starts with #!)")
    } else if head.starts_with(b"L\x00\x00\x00\x01\x14\x02\x00") {
        Some("its content is a Windows shortcut (LNK)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `filenames` fuzz target: dots cut from the start laid bare white space
    /// other than ' ' (U+2028 LINE SEPARATOR), which a second run cut as the part's own.
    #[test]
    fn a_name_trimmed_of_dots_is_already_normal() {
        for raw in [
            "..\u{2028}ce\0\u{12}\u{fffd}",
            ". \u{3000}x. \u{a0}.",
            "\u{85}.a",
        ] {
            let once = normalise(raw);
            assert!(!once.starts_with(char::is_whitespace), "{once:?}");
            assert!(!once.ends_with(char::is_whitespace), "{once:?}");
            assert_eq!(normalise(&once), once, "from {raw:?}");
        }
    }

    /// Found by the `filenames` fuzz target: a cut that lays bare white space other than ' '
    /// (here U+200A HAIR SPACE, before a dropped accent) left it at the end, and a second run
    /// trimmed it.
    #[test]
    fn a_cut_long_name_is_already_normal() {
        for tail in ["\u{200a}", "\u{3000}", " .\u{2009}", "\u{200a}\u{301}x"] {
            let raw = format!("{}{tail}{}", "a".repeat(MAX_NAME_BYTES - 3), "b".repeat(40));
            let once = normalise(&raw);
            assert!(once.len() <= MAX_NAME_BYTES, "{once:?}");
            assert!(!once.ends_with(char::is_whitespace), "{once:?}");
            assert_eq!(normalise(&once), once, "from {raw:?}");
        }
    }

    #[test]
    fn a_program_under_a_picture_name_is_disguised_and_renamed() {
        assert_eq!(
            disguised("photo.jpg", b"MZ\x90\x00"),
            Some("its content is a Windows program (MZ/PE)")
        );
        assert!(disguised("passport.pdf", b"\x7fELF\x02").is_some());
        assert!(disguised("notes", b"#!/bin/sh\n").is_some());
        // Named as what it is: flagged as a risk, but not disguised.
        assert!(disguised("setup.exe", b"MZ").is_none());
        assert!(disguised("run.sh", b"#!/bin/sh").is_none());
        // A script named as text opens as text: flagged, not renamed.
        assert!(disguised("notes.txt", b"#!/bin/sh").is_none());
        assert!(disguised("notes.txt", b"MZ").is_some());
        assert!(disguised("photo.jpg", b"\xff\xd8\xff\xe0").is_none());
        assert_eq!(extracted_name("photo.jpg", b"MZ"), "photo.jpg.disguised");
        assert_eq!(extracted_name("photo.jpg", b"\xff\xd8"), "photo.jpg");
        let long = format!("{}.jpg", "я".repeat(150));
        let renamed = extracted_name(&normalise(&long), b"MZ");
        assert!(renamed.ends_with(".disguised") && renamed.len() <= MAX_NAME_BYTES);
    }

    fn is_safe(name: &str) {
        assert!(!name.is_empty());
        assert!(name.len() <= MAX_NAME_BYTES, "{} bytes", name.len());
        assert!(!name.contains(['/', '\\', '\0', '\n', '\r']), "{name:?}");
        assert!(!name.contains(".."), "{name:?}");
        assert!(!name.starts_with('.'), "{name:?}");
        assert!(!name.ends_with(['.', ' ']), "{name:?}");
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert!(!is_windows_device(name), "{name:?}");
        let nfc: String = name.nfc().collect();
        assert_eq!(nfc, name);
    }

    #[test]
    fn hostile_names_become_plain_names() {
        let cases = [
            ("../../etc/passwd", "etc_passwd"),
            ("C:\\x", "C__x"),
            (
                "..\\..\\windows\\system32\\cmd.exe",
                "windows_system32_cmd.exe",
            ),
            ("/etc/shadow", "etc_shadow"),
            ("a\0b.txt", "a_b.txt"),
            ("line\nbreak.txt", "line_break.txt"),
            ("\u{1b}[31mred.txt", "_[31mred.txt"),
            (".bashrc", "bashrc"),
            ("...", FALLBACK),
            ("..", FALLBACK),
            ("", FALLBACK),
            ("   ", FALLBACK),
            ("CON", "_CON"),
            ("con.txt", "_con.txt"),
            ("LPT1.doc", "_LPT1.doc"),
            ("COM10.txt", "COM10.txt"),
            ("report. ", "report"),
            ("a..b.pdf", "a.b.pdf"),
            ("invoice\u{202e}fdp.exe", "invoicefdp.exe"),
            ("фото задержания.jpg", "фото задержания.jpg"),
        ];
        for (raw, want) in cases {
            let got = normalise(raw);
            assert_eq!(got, want, "{raw:?}");
            is_safe(&got);
        }
        // The output is NFC even when the input is not.
        assert_eq!(normalise("Rusta\u{301}m.txt"), "Rustám.txt");
    }

    #[test]
    fn an_invisible_character_between_a_letter_and_its_accent_still_gives_nfc() {
        // Removing the zero-width space lets the accent meet its letter: that must compose.
        assert_eq!(normalise("e\u{200b}\u{301}.txt"), "\u{e9}.txt");
        assert_eq!(normalise("a\u{202e}\u{30a}\u{2066}.txt"), "\u{e5}.txt");
    }

    /// Seeded random names mixing letters, combining marks, zero-width and bidi characters,
    /// separators, dots and controls: normalising twice gives what normalising once did, and
    /// that is NFC and safe.
    #[test]
    fn normalising_is_idempotent_on_random_names() {
        let alphabet = [
            "e", "a", "o", "A", "я", "\u{1100}", "\u{1161}", "\u{11a8}", "\u{ac00}", "<",
            "\u{301}", "\u{300}", "\u{308}", "\u{323}", "\u{30a}", "\u{338}", "\u{327}",
            "\u{200b}", "\u{200c}", "\u{200d}", "\u{200e}", "\u{200f}", "\u{feff}", "\u{ad}",
            "\u{202a}", "\u{202b}", "\u{202c}", "\u{202d}", "\u{202e}", "\u{2066}", "\u{2069}",
            "\u{61c}", "\u{2060}", ".", "..", " ", "/", "\\", "\0", "\n", "_", "x.txt",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
        };
        for round in 0..500 {
            let len = next(12);
            let raw: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            let once = normalise(&raw);
            is_safe(&once);
            assert_eq!(normalise(&once), once, "round {round}: {raw:?}");
        }
    }

    #[test]
    fn long_names_keep_their_extension_and_character_boundaries() {
        let long = format!("{}.jpeg", "я".repeat(2500)); // 5,000 bytes of Cyrillic
        let got = normalise(&long);
        is_safe(&got);
        assert!(got.ends_with(".jpeg"));
        assert!(got.len() > MAX_NAME_BYTES - 4);
        let no_ext = normalise(&"x".repeat(5000));
        assert_eq!(no_ext.len(), MAX_NAME_BYTES);
    }

    #[test]
    fn clashes_by_case_and_unicode_form_are_numbered() {
        let mut set = NameSet::new();
        assert_eq!(set.claim("Photo.jpg"), "Photo.jpg");
        assert_eq!(set.claim("photo.JPG"), "photo (2).JPG");
        assert_eq!(set.claim("PHOTO.jpg"), "PHOTO (3).jpg");
        // "é" precomposed and decomposed: the same name to a reader.
        let nfc = normalise("caf\u{e9}.txt");
        let nfd = normalise("cafe\u{301}.txt");
        assert_eq!(set.claim(&nfc), "café.txt");
        assert_eq!(set.claim(&nfd), "café (2).txt");
        // Numbering a maximal name stays within bounds.
        let long = normalise(&format!("{}.png", "z".repeat(400)));
        assert_eq!(set.claim(&long), long);
        let second = set.claim(&long);
        assert!(second.ends_with(" (2).png") && second.len() <= MAX_NAME_BYTES);
    }

    #[test]
    fn programs_and_scripts_are_flagged_by_name_content_or_type() {
        assert!(risk("x.exe", b"", "").unwrap().contains(".exe"));
        assert!(risk("photo.jpg.EXE", b"", "").is_some());
        assert!(risk("run.sh", b"", "").is_some());
        assert!(risk("budget.xlsm", b"", "").unwrap().contains("macros"));
        assert!(risk("photo.jpg", b"MZ\x90\x00", "image/jpeg")
            .unwrap()
            .contains("Windows program"));
        assert!(risk("notes.txt", b"#!/bin/sh\nrm -rf ~", "text/plain").is_some());
        assert!(risk("a", b"\x7fELF\x02", "").unwrap().contains("ELF"));
        assert!(risk("a", b"\xcf\xfa\xed\xfe", "").is_some());
        assert!(risk("a.bin2", b"", "application/x-msdownload").is_some());
        assert!(risk("photo.jpg", b"\xff\xd8\xff\xe0", "image/jpeg").is_none());
        assert!(risk("statement.pdf", b"%PDF-1.7", "application/pdf").is_none());
    }
}
