-- What a case was applied for (start, end, premium, and any loading), as JSON: it completes a
-- policy the partner issues without restating its terms (core/terms.rs).
ALTER TABLE cases ADD COLUMN terms TEXT;
