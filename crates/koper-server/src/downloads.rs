//! What a build's results are, file by file, so that `koper
//! download-build` fetches exactly them (and checks their sizes) instead of
//! crawling directory listings.

use koper_api::v1;
use koper_db::BuildRow;

use crate::app::App;
use crate::error::Result;

/// Every regular file in the build's result directories, by chroot and
/// name. Links and subdirectories are not results.
pub async fn result_files(app: &App, build: &BuildRow) -> Result<Vec<v1::ResultFile>> {
    let mut files = Vec::new();
    for task in &build.chroots {
        let Some(result_dir) = &task.result_dir else {
            continue;
        };
        let dir = app
            .data()
            .results()
            .repo_dir(&build.owner, &build.project, &task.chroot)
            .join(result_dir);
        let url = format!(
            "{}/{}/{}/{}/{result_dir}",
            app.results_url(),
            build.owner,
            build.project,
            task.chroot
        );
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            // Pruned, or never published: nothing to download.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        let mut found = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.file_type().await?.is_file() {
                continue;
            }
            let bytes = entry.metadata().await?.len();
            found.push(v1::ResultFile {
                chroot: task.chroot.clone(),
                url: format!("{url}/{name}"),
                name,
                bytes,
            });
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        files.extend(found);
    }
    Ok(files)
}
