//! Where koper keeps its files, and how it writes them.
//!
//! Everything lives under one data directory ([`DataDir`]). Its `results/`
//! subtree ([`ResultsTree`]) is public: plain static files in Copr's layout
//! that any web server or rsync mirror can serve as is. Paths are built only
//! from validated names (`koper_types`), so no request can name a file
//! outside the tree. Writes are atomic ([`write_atomically`]).

mod atomic;
mod layout;
mod remove;

pub use atomic::{fsync_dir, gzip_atomically, random_suffix, write_atomically};
pub use layout::{DataDir, ResultsTree};
pub use remove::remove_tree;
