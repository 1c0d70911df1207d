//! The definitions compiled into koper. A test checks that every file in
//! `chroots/` is listed here.

/// The chroot definitions shipped with koper, as (file name, TOML text).
pub(crate) const SHIPPED: &[(&str, &str)] = &[
    (
        "epel-10-aarch64.toml",
        include_str!("../chroots/epel-10-aarch64.toml"),
    ),
    (
        "epel-10-x86_64.toml",
        include_str!("../chroots/epel-10-x86_64.toml"),
    ),
    (
        "epel-9-aarch64.toml",
        include_str!("../chroots/epel-9-aarch64.toml"),
    ),
    (
        "epel-9-x86_64.toml",
        include_str!("../chroots/epel-9-x86_64.toml"),
    ),
    (
        "fedora-42-aarch64.toml",
        include_str!("../chroots/fedora-42-aarch64.toml"),
    ),
    (
        "fedora-42-x86_64.toml",
        include_str!("../chroots/fedora-42-x86_64.toml"),
    ),
    (
        "fedora-43-aarch64.toml",
        include_str!("../chroots/fedora-43-aarch64.toml"),
    ),
    (
        "fedora-43-x86_64.toml",
        include_str!("../chroots/fedora-43-x86_64.toml"),
    ),
    (
        "fedora-rawhide-aarch64.toml",
        include_str!("../chroots/fedora-rawhide-aarch64.toml"),
    ),
    (
        "fedora-rawhide-x86_64.toml",
        include_str!("../chroots/fedora-rawhide-x86_64.toml"),
    ),
    (
        "host-1-aarch64.toml",
        include_str!("../chroots/host-1-aarch64.toml"),
    ),
    (
        "host-1-x86_64.toml",
        include_str!("../chroots/host-1-x86_64.toml"),
    ),
];
