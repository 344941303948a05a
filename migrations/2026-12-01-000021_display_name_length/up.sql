-- A user's display name is at most 100 characters in the database too, not
-- only in the server: the data API lets users rename themselves directly.
-- Longer names already stored are cut to 100 characters first.
UPDATE users SET display_name = left(display_name, 100)
WHERE char_length(display_name) > 100;
ALTER TABLE users ADD CONSTRAINT users_display_name_length
    CHECK (display_name IS NULL OR char_length(display_name) <= 100);
