/** Every image produced in this session, newest first. */
import { viewUrl } from "../api/client";
import { useRunStore } from "../store/runStore";

export function Gallery() {
  const images = useRunStore((s) => s.gallery);
  return (
    <div className="dl-panel dl-gallery">
      <div className="dl-panel-head"><b>Gallery</b> <small>{images.length} images</small></div>
      <div className="dl-gallery-grid">
        {images.map((img, i) => (
          <a key={`${img.filename}-${i}`} href={viewUrl(img)} target="_blank" rel="noreferrer">
            <img src={viewUrl(img)} alt={img.filename} title={img.filename} />
          </a>
        ))}
        {!images.length && <div className="empty">Images appear here after a run.</div>}
      </div>
    </div>
  );
}
