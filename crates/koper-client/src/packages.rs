//! Calls about a project's packages and their default sources.

use koper_api::v1;
use koper_types::{ChrootName, PackageName, ProjectRef};
use reqwest::Method;

use crate::api::{Client, ClientError, options_query};

fn package_path(project: &ProjectRef, name: &PackageName) -> String {
    format!(
        "/projects/{}/{}/packages/{name}",
        project.owner, project.name
    )
}

impl Client {
    /// A project's packages.
    pub async fn list_packages(
        &self,
        project: &ProjectRef,
    ) -> Result<Vec<v1::Package>, ClientError> {
        let path = format!("/projects/{}/{}/packages", project.owner, project.name);
        self.json(self.request(Method::GET, &path)).await
    }

    /// Adds a package (`edit` false) or changes one.
    pub async fn set_package(
        &self,
        project: &ProjectRef,
        name: &PackageName,
        settings: &v1::PackageSettings,
        edit: bool,
    ) -> Result<v1::Package, ClientError> {
        let method = if edit { Method::PUT } else { Method::POST };
        self.json(
            self.request(method, &package_path(project, name))
                .json(settings),
        )
        .await
    }

    /// Deletes a package; its builds stay.
    pub async fn delete_package(
        &self,
        project: &ProjectRef,
        name: &PackageName,
    ) -> Result<v1::Package, ClientError> {
        self.json(self.request(Method::DELETE, &package_path(project, name)))
            .await
    }

    /// Clears a package's default source.
    pub async fn reset_package(
        &self,
        project: &ProjectRef,
        name: &PackageName,
    ) -> Result<v1::Package, ClientError> {
        let path = format!("{}/reset", package_path(project, name));
        self.json(self.request(Method::POST, &path)).await
    }

    /// Builds a package from its default source.
    pub async fn build_package(
        &self,
        project: &ProjectRef,
        name: &PackageName,
        chroots: &[ChrootName],
        options: &v1::BuildOptions,
    ) -> Result<v1::Build, ClientError> {
        let chroots: Vec<&str> = chroots.iter().map(ChrootName::as_str).collect();
        let mut query = vec![("chroots", chroots.join(","))];
        query.extend(options_query(options));
        let path = format!("{}/build", package_path(project, name));
        self.json(self.request(Method::POST, &path).query(&query))
            .await
    }

    /// Makes a new secret for the project's webhook.
    pub async fn new_webhook_secret(
        &self,
        project: &ProjectRef,
    ) -> Result<v1::WebhookSecret, ClientError> {
        let path = format!(
            "/projects/{}/{}/webhook-secret",
            project.owner, project.name
        );
        self.json(self.request(Method::POST, &path)).await
    }
}
