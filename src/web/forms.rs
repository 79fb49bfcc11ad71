//! Forms posted to the site. Each is taken through [`CheckedForm`], which refuses one whose
//! CSRF token is not this visitor's before any handler sees it: a POST route cannot forget
//! the check, since a form's fields are only ever read through it.

use axum::Form;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::SharedApp;
use super::pages::refused_form;
use super::visit::Visit;

/// A form that carries the token its page was given.
pub trait CarriesCsrfToken {
    fn csrf_token(&self) -> &str;
}

/// A form this visitor's own page posted, with the visit it came with.
pub struct CheckedForm<T> {
    pub form: T,
    pub visit: Visit,
}

impl<T> FromRequest<SharedApp> for CheckedForm<T>
where
    T: DeserializeOwned + CarriesCsrfToken + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, app: &SharedApp) -> Result<Self, Self::Rejection> {
        let visit = app.visit(request.headers());
        let Form(form) = Form::<T>::from_request(request, app)
            .await
            .map_err(IntoResponse::into_response)?;
        if !visit.csrf_holds(form.csrf_token()) {
            return Err(refused_form(app, visit));
        }
        Ok(CheckedForm { form, visit })
    }
}

/// `impl CarriesCsrfToken` for forms whose token is the field `csrf_token`.
macro_rules! carries_csrf_token {
    ($($form:ty),*) => {$(
        impl $crate::web::forms::CarriesCsrfToken for $form {
            fn csrf_token(&self) -> &str {
                &self.csrf_token
            }
        }
    )*};
}
pub(crate) use carries_csrf_token;
