//! Removing a directory tree that another task may still add a file to.

use std::fs;
use std::io;
use std::path::Path;

/// How often emptying a directory is tried before a file that keeps
/// appearing in it counts as an error.
const TRIES: usize = 20;

/// Removes `dir` and everything in it; a directory already gone is fine.
/// A file that appears while `dir` is being emptied (a build's late log
/// arriving while the build is pruned or deleted) makes the removal go
/// round again: once `dir` is gone nothing more can be written into it.
pub fn remove_tree(dir: &Path) -> io::Result<()> {
    let mut tries = 0;
    loop {
        match fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty && tries < TRIES => {
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_that_gains_files_while_it_is_removed_still_goes() {
        for _ in 0..50 {
            let top = tempfile::tempdir().unwrap();
            let dir = top.path().join("00000001-hello");
            fs::create_dir(&dir).unwrap();
            for n in 0..200 {
                fs::write(dir.join(format!("file-{n}")), b"x").unwrap();
            }
            let writer = {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    // Like late logs, each a temporary file renamed into
                    // place, while the directory is emptied.
                    for n in 0..3 {
                        let temp = dir.join(format!(".late-{n}.tmp"));
                        if fs::write(&temp, b"x").is_err()
                            || fs::rename(&temp, dir.join(format!("late-{n}"))).is_err()
                        {
                            return;
                        }
                    }
                })
            };
            remove_tree(&dir).unwrap();
            assert!(!dir.exists());
            writer.join().unwrap();
            remove_tree(&dir).unwrap();
        }
    }
}
