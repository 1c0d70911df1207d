//! Who may do what to a project. Every state-changing operation asks here.

use koper_db::{ProjectRow, User};

/// Whether `user` may submit and cancel builds in `project`.
pub fn can_build(user: &User, project: &ProjectRow) -> bool {
    can_admin(user, project)
}

/// Whether `user` may change or delete `project`.
pub fn can_admin(user: &User, project: &ProjectRow) -> bool {
    user.is_admin || project.owner.as_str() == user.name.as_str()
}

/// Whether `user` may create a project owned by `owner`.
pub fn can_create_for(user: &User, owner: &koper_types::OwnerName) -> bool {
    user.is_admin || owner.as_str() == user.name.as_str()
}
