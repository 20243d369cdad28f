//! Round trip: what a source sends over HTTP is what staff decrypt, byte for byte, with the age
//! crate and with Debian's `age` tool (a separate implementation), for either staff key.

mod common;

use common::*;
use sealdrop_core::padme::padded_len;

#[test]
fn a_submission_decrypts_byte_for_byte_with_the_age_crate_and_the_age_cli() {
    let setup = Setup::new();
    let server = setup.start();

    let message = "Моего брата Алишера задержали 3 марта у вокзала в Самаре.\n\
                   Two men in plain clothes; a grey car. «Кавычки» & <angle> \"quotes\"\r\nend.";
    let contact = "Signal: +7 900 000-00-00 (вечером)";
    // Several MiB of random bytes, not a multiple of age's 64 KiB chunk.
    let video = random_bytes(4 * 1024 * 1024 + 12_345);
    let photo = random_bytes(70_001);
    let notes = "список свидетелей\nwitness list\n".as_bytes().to_vec();
    let sent: [(&str, &str, &[u8]); 3] = [
        ("video_2026-03-03.mp4", "video/mp4", &video),
        ("фото задержания №2.jpg", "image/jpeg", &photo),
        ("notes.txt", "text/plain", &notes),
    ];
    let mut form = Multipart::new()
        .text("message", message)
        .text("contact", contact);
    for (name, ty, data) in sent {
        form = form.file("files", name, ty, data);
    }
    let response = server.post("/submit", &form);
    response.assert_received();

    // The index: one submission, its envelope and three attachments, sizes matching the files.
    let (row, opened) = setup.only_submission();
    let blobs = setup.blob_rows();
    assert_eq!(blobs.len(), 4);
    assert!(blobs.iter().all(|b| b.submission_id == row.id));
    let envelope_row = blobs.iter().find(|b| b.kind == "envelope").unwrap();
    assert_eq!(envelope_row.id, row.envelope_blob);
    for b in &blobs {
        let on_disk = std::fs::metadata(setup.blobs_dir().join(format!("{}.age", b.id)))
            .unwrap()
            .len();
        assert_eq!(b.size as u64, on_disk, "recorded size of blob {}", b.id);
    }
    assert_eq!(files_under(&setup.blobs_dir()).len(), 4);
    assert!(files_under(&setup.incoming_dir()).is_empty());

    // The envelope, through the age crate.
    let env = &opened.envelope;
    assert_eq!(env["submission"], row.id.as_str());
    assert_eq!(env["arrived"], row.arrived.as_str());
    assert_eq!(opened.field("message"), Some(message));
    assert_eq!(opened.field("contact"), Some(contact));
    assert_eq!(
        env["fields"].as_object().unwrap().len(),
        2,
        "only message and contact are fields"
    );
    let json_len = json_len(&opened.envelope_plain) as u64;
    assert_eq!(opened.envelope_plain.len() as u64, padded_len(json_len));

    // Every attachment, in the order sent, through the age crate.
    assert_eq!(opened.attachments.len(), 3);
    let attachment_ids: Vec<&str> = blobs
        .iter()
        .filter(|b| b.kind == "attachment")
        .map(|b| b.id.as_str())
        .collect();
    for ((name, ty, data), att) in sent.iter().zip(&opened.attachments) {
        assert_eq!(att.name.as_bytes(), name.as_bytes(), "filename");
        assert_eq!(&att.content_type, ty);
        assert_eq!(att.length, data.len() as u64);
        assert!(attachment_ids.contains(&att.blob.as_str()));
        assert!(att.content() == *data, "content of {name}");
        assert_eq!(att.padded.len() as u64, padded_len(data.len() as u64));
        assert!(
            att.padded[data.len()..].iter().all(|&b| b == 0),
            "attachment padding must be zero bytes ({name})"
        );
    }

    // The same blobs through Debian's `age`: identical plaintext, padding included.
    let envelope_path = setup.blobs_dir().join(format!("{}.age", row.envelope_blob));
    let cli_envelope = decrypt_with_cli(&setup.identity_file, &envelope_path);
    assert!(cli_envelope == opened.envelope_plain);
    let cli_json = parse_envelope(&cli_envelope);
    assert_eq!(cli_json["fields"]["message"], message);
    for ((name, _, data), att) in sent.iter().zip(&opened.attachments) {
        let path = setup.blobs_dir().join(format!("{}.age", att.blob));
        let cli = decrypt_with_cli(&setup.identity_file, &path);
        assert!(cli == att.padded, "age CLI plaintext of {name}");
        assert!(&cli[..data.len()] == *data);
    }

    // The second staff key opens the submission too.
    let second = decrypt_with(&setup.second_identity, &envelope_path);
    assert!(second == opened.envelope_plain);
    let path = setup
        .blobs_dir()
        .join(format!("{}.age", opened.attachments[1].blob));
    assert!(decrypt_with(&setup.second_identity, &path)[..photo.len()] == photo[..]);
}

#[test]
fn path_like_filenames_are_kept_only_as_names_inside_the_envelope() {
    let setup = Setup::new();
    let server = setup.start();
    let escape = format!("escape-{}.txt", random_hex(6));
    let names = [
        format!("../../../{escape}"),
        "/etc/passwd".to_owned(),
        "C:\\Windows\\win.ini".to_owned(),
        ".".to_owned(),
    ];
    let mut form = Multipart::new().text("message", "hostile names");
    for name in &names {
        form = form.file("files", name, "text/plain", name.as_bytes());
    }
    server.post("/submit", &form).assert_received();
    let (_, opened) = setup.only_submission();
    let kept: Vec<&str> = opened.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(kept, names.iter().map(String::as_str).collect::<Vec<_>>());
    for a in &opened.attachments {
        assert_eq!(a.content(), a.name.as_bytes());
    }
    // Only id-named blobs were written; nothing landed where a name pointed.
    for path in files_under(setup.root.path()) {
        assert!(
            !path.to_string_lossy().contains("escape-"),
            "{}",
            path.display()
        );
    }
    for dir in [setup.root.path(), setup.root.path().parent().unwrap()] {
        assert!(!dir.join(&escape).exists());
    }
    for blob in files_under(&setup.blobs_dir()) {
        let name = blob.file_name().unwrap().to_str().unwrap();
        let id = name.strip_suffix(".age").expect("NAME.age");
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}"
        );
    }
}
