use super::*;

#[test]
fn request_ids_name_one_ticket_per_caller() {
    let a = ticket_id_for("svc", "req-1");
    assert_eq!(a, ticket_id_for("svc", "req-1"));
    assert_ne!(a, ticket_id_for("svc", "req-2"));
    assert_ne!(a, ticket_id_for("other", "req-1"));
    assert!(check_request_id("0b6f-uuid_like").is_ok());
    assert!(check_request_id("").is_err() && check_request_id("a b").is_err());
}
