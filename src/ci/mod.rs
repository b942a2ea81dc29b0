//! CI platforms: detect GitHub Actions / GitLab CI, read the event, and publish results
//! (outputs, summary, annotations, masks).
