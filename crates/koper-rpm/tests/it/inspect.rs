use std::fs::File;

use koper_rpm::{RpmError, inspect_package, inspect_source_rpm, read_headers};

use crate::fixtures::{self, damaged};

#[test]
fn reads_the_noarch_source_rpm() {
    let f = fixtures::get();
    let srpm = inspect_source_rpm(&f.hello_srpm).expect("hello.src.rpm is valid");
    assert_eq!(srpm.name.as_str(), "hello");
    assert_eq!(srpm.epoch, None);
    assert_eq!(srpm.version, "1.0");
    assert_eq!(srpm.release, "1");
    assert_eq!(srpm.license, "MIT");
    assert_eq!(srpm.summary, "Says hello, from a koper repository");
    assert_eq!(srpm.url.as_deref(), Some("https://example.org/hello"));
    assert_eq!(srpm.evr(), "1.0-1");
    assert_eq!(srpm.nvr(), "hello-1.0-1");
    assert!(
        srpm.noarch_only,
        "BuildArch: noarch builds once for all arches"
    );
}

#[test]
fn reads_the_other_source_rpms() {
    let f = fixtures::get();
    let c = inspect_source_rpm(&f.hello_c_srpm).expect("hello-c is valid");
    assert_eq!(c.nvr(), "hello-c-2.1-3");
    assert_eq!(c.url.as_deref(), Some("https://example.org/hello-c"));
    assert!(!c.noarch_only, "compiled code builds per arch");
    let fails = inspect_source_rpm(&f.fails_srpm).expect("fails is a valid SRPM");
    assert_eq!(fails.nvr(), "fails-1.0-1");
    assert_eq!(fails.url, None);
}

#[test]
fn identifies_source_and_binary_packages() {
    let f = fixtures::get();
    let src = inspect_package(&f.hello_srpm).expect("valid");
    assert!(src.is_source);
    assert_eq!(src.arch, "src");
    assert_eq!(src.nvra(), "hello-1.0-1.src");
    assert_eq!(src.source_rpm, None);

    let bin = inspect_package(&f.binary_rpm).expect("valid");
    assert!(!bin.is_source);
    assert_eq!(bin.name.as_str(), "tool");
    assert_eq!(bin.epoch, Some(2));
    assert_eq!(bin.evr(), "2:3.4-5");
    assert_eq!(bin.arch, std::env::consts::ARCH);
    assert_eq!(bin.source_rpm.as_deref(), Some("tool-3.4-5.src.rpm"));
}

#[test]
fn refuses_a_binary_rpm_as_source() {
    let f = fixtures::get();
    let err = inspect_source_rpm(&f.binary_rpm).expect_err("binary");
    assert!(matches!(err, RpmError::NotASourceRpm { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "this is a binary RPM ({}), a source RPM (.src.rpm) is expected",
            std::env::consts::ARCH
        )
    );
}

#[test]
fn refuses_files_that_are_not_rpms() {
    let f = fixtures::get();
    let text = f.scratch.join("notes.txt");
    std::fs::write(&text, "Name: hello\nVersion: 1.0\n").expect("write");
    let empty = f.scratch.join("empty.src.rpm");
    std::fs::write(&empty, "").expect("write");
    for path in [&text, &empty] {
        let err = inspect_source_rpm(path).expect_err("not an rpm");
        assert!(matches!(err, RpmError::NotAnRpm), "{err:?}");
        assert_eq!(err.to_string(), "not an RPM file (no RPM lead)");
        assert!(matches!(inspect_package(path), Err(RpmError::NotAnRpm)));
    }
    let missing = inspect_package(&f.scratch.join("missing.rpm")).expect_err("missing");
    assert!(matches!(missing, RpmError::Io(_)), "{missing:?}");
}

#[test]
fn refuses_truncated_files_at_every_part() {
    let f = fixtures::get();
    for src in [&f.hello_srpm, &f.binary_rpm] {
        let len = std::fs::metadata(src).expect("stat").len();
        let layout = read_headers(&mut File::open(src).expect("open"), len).expect("valid headers");
        let cuts = [
            50,                        // inside the lead
            100,                       // inside the signature header's intro
            200,                       // inside the signature header
            layout.header_start + 8,   // inside the main header's intro
            layout.header_start + 100, // inside the main header
            layout.payload_start,      // no payload at all
            layout.payload_start + 10, // inside the payload
            len - 1,                   // one byte short
        ];
        for cut in cuts {
            let path = damaged("cut.rpm", src, |b| b.truncate(cut as usize));
            let err = inspect_package(&path).expect_err("truncated");
            match err {
                RpmError::Truncated { expected, actual } => {
                    assert_eq!(actual, cut);
                    assert!(expected > cut);
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
        let path = damaged("cut.rpm", src, |b| b.truncate(len as usize - 1));
        assert_eq!(
            inspect_package(&path).expect_err("truncated").to_string(),
            format!(
                "the file is truncated: its header announces {len} bytes but the file has {}",
                len - 1
            )
        );
    }
}

#[test]
fn detects_a_flipped_byte_in_the_payload() {
    let f = fixtures::get();
    for src in [&f.hello_srpm, &f.binary_rpm] {
        let len = std::fs::metadata(src).expect("stat").len();
        let layout = read_headers(&mut File::open(src).expect("open"), len).expect("valid headers");
        for at in [
            layout.payload_start,
            (layout.payload_start + len) / 2,
            len - 1,
        ] {
            let path = damaged("flipped.rpm", src, |b| b[at as usize] ^= 0x20);
            let err = inspect_package(&path).expect_err("damaged");
            assert!(
                matches!(err, RpmError::DigestMismatch { part: "payload" }),
                "{err:?}"
            );
        }
    }
}

#[test]
fn detects_a_changed_header() {
    let f = fixtures::get();
    let bytes = std::fs::read(&f.hello_srpm).expect("read");
    let summary = b"Says hello";
    let at = bytes
        .windows(summary.len())
        .position(|w| w == summary)
        .expect("summary in header");
    let path = damaged("edited.src.rpm", &f.hello_srpm, |b| b[at] = b'D');
    let err = inspect_source_rpm(&path).expect_err("damaged");
    assert!(
        matches!(err, RpmError::DigestMismatch { part: "header" }),
        "{err:?}"
    );
}

#[test]
fn refuses_trailing_data() {
    let f = fixtures::get();
    let path = damaged("long.rpm", &f.hello_srpm, |b| b.extend_from_slice(b"junk"));
    let err = inspect_package(&path).expect_err("too long");
    assert!(matches!(err, RpmError::Corrupt(_)), "{err:?}");
}

/// A lead followed by a signature header intro that announces huge sizes:
/// refused without allocating them.
#[test]
fn refuses_hostile_header_sizes() {
    let f = fixtures::get();
    let lead = std::fs::read(&f.hello_srpm).expect("read")[..96].to_vec();
    let mut hostile = lead.clone();
    hostile.extend_from_slice(&[0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]);
    hostile.extend_from_slice(&0x0000_fff0_u32.to_be_bytes());
    hostile.extend_from_slice(&0xffff_fff0_u32.to_be_bytes());
    hostile.resize(4096, 0);
    let path = f.scratch.join("hostile-size.rpm");
    std::fs::write(&path, &hostile).expect("write");
    let err = inspect_package(&path).expect_err("hostile");
    assert!(matches!(err, RpmError::Corrupt(_)), "{err:?}");

    // Sizes within bounds, but an entry pointing far outside the store.
    let mut hostile = lead;
    hostile.extend_from_slice(&[0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]);
    hostile.extend_from_slice(&1_u32.to_be_bytes());
    hostile.extend_from_slice(&16_u32.to_be_bytes());
    for word in [1000_u32, 5, 0x7fff_0000, 0x1000_0000] {
        hostile.extend_from_slice(&word.to_be_bytes());
    }
    hostile.resize(hostile.len() + 16, 0);
    let path = f.scratch.join("hostile-entry.rpm");
    std::fs::write(&path, &hostile).expect("write");
    let err = inspect_package(&path).expect_err("hostile");
    assert!(matches!(err, RpmError::Corrupt(_)), "{err:?}");
}
