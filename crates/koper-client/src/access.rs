//! Client calls about who may do what: project roles and groups.

use std::collections::BTreeMap;

use koper_api::v1;
use koper_types::{OwnerName, ProjectName};
use reqwest::Method;
use serde::Deserialize;

use crate::{Client, ClientError};

#[derive(Deserialize)]
struct Updated<T> {
    updated: T,
}

impl Client {
    /// Everyone with a role or a request in a project.
    pub async fn project_roles(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
    ) -> Result<Vec<v1::UserRoles>, ClientError> {
        self.json(self.request(
            Method::GET,
            &format!("/projects/{owner}/{name}/permissions"),
        ))
        .await
    }

    /// Grants, denies or takes back roles; returns the users changed.
    pub async fn change_roles(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        updates: &BTreeMap<String, v1::RoleUpdate>,
    ) -> Result<Vec<String>, ClientError> {
        let reply: Updated<Vec<String>> = self
            .json(
                self.request(
                    Method::PUT,
                    &format!("/projects/{owner}/{name}/permissions"),
                )
                .json(updates),
            )
            .await?;
        Ok(reply.updated)
    }

    /// Asks for roles or gives them up; returns whether anything changed.
    pub async fn request_roles(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        request: &v1::RoleRequest,
    ) -> Result<bool, ClientError> {
        let reply: Updated<bool> = self
            .json(
                self.request(
                    Method::POST,
                    &format!("/projects/{owner}/{name}/permissions/request"),
                )
                .json(request),
            )
            .await?;
        Ok(reply.updated)
    }

    /// Every group's name.
    pub async fn list_groups(&self) -> Result<Vec<String>, ClientError> {
        self.json(self.request(Method::GET, "/groups")).await
    }

    /// A group and its members.
    pub async fn group(&self, name: &str) -> Result<v1::Group, ClientError> {
        self.json(self.request(Method::GET, &format!("/groups/{name}")))
            .await
    }

    /// Creates a group with the caller as its admin.
    pub async fn create_group(&self, name: &str) -> Result<v1::Group, ClientError> {
        self.json(
            self.request(Method::POST, "/groups")
                .json(&v1::NewGroup { name: name.into() }),
        )
        .await
    }

    /// Adds a member or changes whether they administer the group.
    pub async fn set_group_member(
        &self,
        group: &str,
        user: &str,
        admin: bool,
    ) -> Result<v1::Group, ClientError> {
        self.json(
            self.request(Method::PUT, &format!("/groups/{group}/members/{user}"))
                .json(&v1::Membership { admin }),
        )
        .await
    }

    /// Removes a member from a group.
    pub async fn remove_group_member(
        &self,
        group: &str,
        user: &str,
    ) -> Result<v1::Group, ClientError> {
        self.json(self.request(Method::DELETE, &format!("/groups/{group}/members/{user}")))
            .await
    }
}
