//! Who to blame: the rpm macros that make every built package name this
//! instance and the project it came from, so that bug reports reach the
//! project's owner and not the distribution (Copr does the same through
//! mock macros).

use std::collections::BTreeMap;

use koper_db::ProjectRow;

use crate::app::App;
use crate::keys;

/// The project's page, where users find its owner.
pub fn project_page(app: &App, project: &ProjectRow) -> String {
    match project.owner.as_str().strip_prefix('@') {
        Some(group) => format!("{}/coprs/g/{group}/{}/", app.public_url(), project.name),
        None => format!(
            "{}/coprs/{}/{}/",
            app.public_url(),
            project.owner,
            project.name
        ),
    }
}

/// `vendor`, `packager` and `bugurl` for builds of `project` (they become
/// the Vendor, Packager and BugURL tags), and Copr's `copr_username` and
/// `copr_projectname`, which some specs test for.
pub fn macros(app: &App, project: &ProjectRow) -> BTreeMap<String, String> {
    let host = keys::instance_host(app);
    let full_name = format!("{}/{}", project.owner, project.name);
    BTreeMap::from([
        ("vendor".to_owned(), format!("koper {host} ({full_name})")),
        (
            "packager".to_owned(),
            format!("{full_name} on koper {host}"),
        ),
        ("bugurl".to_owned(), project_page(app, project)),
        ("copr_username".to_owned(), project.owner.to_string()),
        ("copr_projectname".to_owned(), project.name.to_string()),
    ])
}
