//! Diesel's view of the tables, written to match `migrations/` exactly.
//!
//! Kept apart from the models so the macro-heavy code changes only with the schema.

diesel::table! {
    users (id) {
        id -> Uuid,
        azure_ad_id -> Text,
        email -> Text,
        display_name -> Nullable<Text>,
        tokens -> Int4,
        role -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        last_login -> Nullable<Timestamptz>,
        disabled_at -> Nullable<Timestamptz>,
        role_from_sign_in -> Bool,
        entra_roles -> Array<Text>,
        entra_groups -> Array<Text>,
    }
}

diesel::table! {
    admin_audit (id) {
        id -> Uuid,
        actor_id -> Uuid,
        action -> Text,
        target_type -> Text,
        target_id -> Uuid,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        reason -> Nullable<Text>,
        request_id -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    domains (id) {
        id -> Uuid,
        name -> Text,
        display_name -> Text,
        description -> Nullable<Text>,
        api_endpoint -> Nullable<Text>,
        configuration -> Jsonb,
        is_active -> Bool,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        allowed_roles -> Array<Text>,
    }
}

diesel::table! {
    transactions (id) {
        id -> Uuid,
        user_id -> Uuid,
        transaction_type -> Text,
        amount -> Int4,
        balance_after -> Int4,
        stripe_payment_intent_id -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        service_type -> Nullable<Text>,
        domain_id -> Nullable<Uuid>,
        refunds_transaction_id -> Nullable<Uuid>,
        metadata -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    stripe_events (event_id) {
        event_id -> Text,
        event_type -> Text,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    pending_reversals (payment_intent_id) {
        payment_intent_id -> Text,
        reason -> Text,
        event_id -> Nullable<Text>,
        created_at -> Timestamptz,
        refunded_cents -> Nullable<Int8>,
        paid_cents -> Nullable<Int8>,
    }
}

diesel::table! {
    purchase_reversals (payment_intent_id) {
        payment_intent_id -> Text,
        user_id -> Uuid,
        purchased -> Int4,
        reversed -> Int4,
        shortfall -> Int4,
        reason -> Text,
        transaction_id -> Nullable<Uuid>,
        due -> Int4,
        created_at -> Timestamptz,
        refunded_due -> Int4,
    }
}

diesel::table! {
    payment_disputes (payment_intent_id) {
        payment_intent_id -> Text,
        status -> Text,
        reason -> Text,
        taken -> Nullable<Int4>,
        shortfall -> Nullable<Int4>,
        restored -> Nullable<Int4>,
        transaction_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    purchases (checkout_session_id) {
        checkout_session_id -> Text,
        user_id -> Uuid,
        package -> Text,
        payment_intent_id -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Uuid,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    conversations (id) {
        id -> Uuid,
        user_id -> Uuid,
        service_type -> Text,
        domain_id -> Nullable<Uuid>,
        title -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    messages (id) {
        id -> Uuid,
        conversation_id -> Uuid,
        author -> Text,
        content -> Text,
        created_at -> Timestamptz,
        interrupted -> Bool,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> Uuid,
        key -> Text,
        fingerprint_sha256 -> Text,
        state -> Text,
        response_version -> Nullable<Int2>,
        response_body -> Nullable<Jsonb>,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
        charge_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    charges (id) {
        id -> Uuid,
        user_id -> Uuid,
        consumption_id -> Uuid,
        refund_id -> Nullable<Uuid>,
        state -> Text,
        idempotency_key -> Nullable<Text>,
        created_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    orphaned_payments (payment_intent_id) {
        payment_intent_id -> Text,
        user_id -> Uuid,
        tokens -> Int4,
        event_id -> Nullable<Text>,
        metadata -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    trial_grants (azure_ad_id) {
        azure_ad_id -> Text,
        email -> Text,
        user_id -> Uuid,
        transaction_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(admin_audit -> users (actor_id));
diesel::joinable!(domains -> users (created_by));
diesel::joinable!(transactions -> users (user_id));
diesel::joinable!(transactions -> domains (domain_id));
diesel::joinable!(purchase_reversals -> users (user_id));
diesel::joinable!(purchases -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    domains,
    transactions,
    stripe_events,
    purchase_reversals,
    pending_reversals,
    payment_disputes,
    purchases,
    charges,
    orphaned_payments,
    trial_grants,
    admin_audit,
);
