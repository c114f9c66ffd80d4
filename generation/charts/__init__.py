"""Server-side SVG drawings (learning curves, piano rolls), with no Django: pages and PDFs
show the same picture."""
