-- Opening hours shown on the public site (a site setting, free text such as
-- "Mon–Fri 8:00–17:00"). Scheduling against opening hours comes later.
ALTER TABLE sites ADD COLUMN hours TEXT;
