"""Reply phrasing: tenant-editable templates filled only with facts from tools."""
