-- Demo sources: rows written by `cairn demo seed` belong to sources marked demo, which
-- have no upstream. Collectors and schedules never run them; they are deleted like any other.
ALTER TABLE metrics_sources ADD COLUMN demo BIGINT NOT NULL DEFAULT 0;
