//! The problem types: stable type URI, status, and the title and default detail a user
//! reads.

use http::StatusCode;

/// Prefix of every problem type URI. A URN rather than an `https` URL, because the public
/// host name differs per deployment and RFC 9457 allows type URIs that are not locators.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:portal:problem:";

/// The reason a file upload was rejected, with guidance a patient can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileRejection {
    /// The detected type is not on the allowlist.
    TypeNotAllowed,
    /// The file contains scripts, macros, embedded files or launch actions.
    ActiveContent,
    /// The file is an archive or a compressed bundle.
    Archive,
    /// The file is damaged or its content does not match its type.
    Corrupted,
    /// The antivirus scan found malware.
    MalwareFound,
}

impl FileRejection {
    /// Returns the reason code, used as the audit reason and the `reason` member.
    pub fn code(self) -> &'static str {
        match self {
            FileRejection::TypeNotAllowed => "file_type_not_allowed",
            FileRejection::ActiveContent => "file_active_content",
            FileRejection::Archive => "file_is_archive",
            FileRejection::Corrupted => "file_corrupted",
            FileRejection::MalwareFound => "file_malware_found",
        }
    }

    pub(crate) fn detail(self) -> &'static str {
        match self {
            FileRejection::TypeNotAllowed => {
                "Upload a PDF, JPEG, PNG, HEIC or plain text file. Other file types are not accepted."
            }
            FileRejection::ActiveContent => {
                "The file contains scripts, macros or embedded files. Save or print it as a plain PDF and upload that."
            }
            FileRejection::Archive => {
                "Archives such as ZIP files are not accepted. Upload each document on its own."
            }
            FileRejection::Corrupted => {
                "The file appears damaged or is not the type it claims to be. Export it again and upload the new copy."
            }
            FileRejection::MalwareFound => {
                "The file did not pass the security scan. Do not open it; upload a clean copy from its original source."
            }
        }
    }
}

/// The kind of problem, which fixes the type URI, status and title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The request is malformed.
    BadRequest,
    /// A field has an invalid value.
    InvalidField,
    /// The request has a field the endpoint does not accept.
    UnknownField,
    /// The body is larger than the endpoint accepts.
    PayloadTooLarge,
    /// The content type is not accepted.
    UnsupportedMediaType,
    /// No valid session: the user must sign in.
    Unauthenticated,
    /// The action needs a recent second-factor authentication.
    StepUpRequired,
    /// The user may not do this.
    Forbidden,
    /// Nothing exists at this address, or the user may not know it exists.
    NotFound,
    /// The method is not supported here.
    MethodNotAllowed,
    /// The record changed since the client read it.
    Conflict,
    /// A precondition such as `If-Match` failed.
    PreconditionFailed,
    /// Too many requests; retry later.
    RateLimited,
    /// An uploaded file was rejected.
    FileRejected(FileRejection),
    /// A dependency is unavailable; retry later.
    ServiceUnavailable,
    /// An unexpected server error.
    Internal,
}

impl ProblemKind {
    /// Returns the last segment of the type URI, such as `invalid-field`.
    pub fn slug(self) -> &'static str {
        match self {
            ProblemKind::BadRequest => "bad-request",
            ProblemKind::InvalidField => "invalid-field",
            ProblemKind::UnknownField => "unknown-field",
            ProblemKind::PayloadTooLarge => "payload-too-large",
            ProblemKind::UnsupportedMediaType => "unsupported-media-type",
            ProblemKind::Unauthenticated => "unauthenticated",
            ProblemKind::StepUpRequired => "step-up-required",
            ProblemKind::Forbidden => "forbidden",
            ProblemKind::NotFound => "not-found",
            ProblemKind::MethodNotAllowed => "method-not-allowed",
            ProblemKind::Conflict => "conflict",
            ProblemKind::PreconditionFailed => "precondition-failed",
            ProblemKind::RateLimited => "rate-limited",
            ProblemKind::FileRejected(_) => "file-rejected",
            ProblemKind::ServiceUnavailable => "service-unavailable",
            ProblemKind::Internal => "internal",
        }
    }

    /// Returns the stable type URI, such as `urn:portal:problem:invalid-field`.
    pub fn type_uri(self) -> String {
        format!("{PROBLEM_TYPE_PREFIX}{}", self.slug())
    }

    /// Returns the HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            ProblemKind::BadRequest | ProblemKind::UnknownField => StatusCode::BAD_REQUEST,
            ProblemKind::InvalidField | ProblemKind::FileRejected(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ProblemKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            // RFC 9470 signals a missing step-up with 401 and
            // `error="insufficient_user_authentication"`.
            ProblemKind::Unauthenticated | ProblemKind::StepUpRequired => StatusCode::UNAUTHORIZED,
            ProblemKind::Forbidden => StatusCode::FORBIDDEN,
            ProblemKind::NotFound => StatusCode::NOT_FOUND,
            ProblemKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::Conflict => StatusCode::CONFLICT,
            ProblemKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ProblemKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ProblemKind::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ProblemKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Returns the title: a short sentence that is the same for every occurrence.
    pub fn title(self) -> &'static str {
        match self {
            ProblemKind::BadRequest => "The request could not be read.",
            ProblemKind::InvalidField => "A field has a value that is not accepted.",
            ProblemKind::UnknownField => "The request has a field that is not accepted.",
            ProblemKind::PayloadTooLarge => "The request is too large.",
            ProblemKind::UnsupportedMediaType => "This type of content is not accepted.",
            ProblemKind::Unauthenticated => "Sign in to continue.",
            ProblemKind::StepUpRequired => "Confirm it is you to continue.",
            ProblemKind::Forbidden => "You do not have access to this.",
            ProblemKind::NotFound => "We could not find what you asked for.",
            ProblemKind::MethodNotAllowed => "This action is not supported here.",
            ProblemKind::Conflict => "This item changed since you opened it.",
            ProblemKind::PreconditionFailed => "This item changed since you opened it.",
            ProblemKind::RateLimited => "Too many attempts.",
            ProblemKind::FileRejected(_) => "The file was not accepted.",
            ProblemKind::ServiceUnavailable => "The service is busy or unavailable.",
            ProblemKind::Internal => "Something went wrong on our side.",
        }
    }

    /// Returns the default detail: what the user can do next.
    pub fn default_detail(self) -> &'static str {
        match self {
            ProblemKind::BadRequest => "Reload the page and try again.",
            ProblemKind::InvalidField => "Correct the field named in this response and try again.",
            ProblemKind::UnknownField => "Remove the field named in this response and try again.",
            ProblemKind::PayloadTooLarge => {
                "Send less data, or a smaller file, than the limit in this response."
            }
            ProblemKind::UnsupportedMediaType => "Send the content in a supported format.",
            ProblemKind::Unauthenticated => {
                "Your session has ended or is not valid. Sign in again."
            }
            ProblemKind::StepUpRequired => {
                "This action needs a recent sign-in with your second factor or passkey. Confirm it and try again."
            }
            ProblemKind::Forbidden => {
                "If you think you should have access, contact your care team or administrator."
            }
            ProblemKind::NotFound => "Check the link, or go back and open the item again.",
            ProblemKind::MethodNotAllowed => "Use the page's own buttons for this action.",
            ProblemKind::Conflict | ProblemKind::PreconditionFailed => {
                "Reload it to see the latest version, then make your change again."
            }
            ProblemKind::RateLimited => "Wait before trying again.",
            ProblemKind::FileRejected(rejection) => rejection.detail(),
            ProblemKind::ServiceUnavailable => "Try again in a few minutes.",
            ProblemKind::Internal => {
                "Try again later. If it keeps happening, contact support and quote the request id."
            }
        }
    }
}
