use super::{NewUser, User};

impl User {
    /// `User(username=…, email=…)`.
    #[allow(
        clippy::new_ret_no_self,
        reason = "the chapter's constructor makes an unsaved object"
    )]
    pub fn new(username: &str, email: &str) -> NewUser {
        NewUser {
            username: Some(username.to_string()),
            email: Some(email.to_string()),
            ..NewUser::default()
        }
    }
}
