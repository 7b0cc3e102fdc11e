# RegionText on the synthetic world: proposals are matched to a concept vocabulary by the
# frozen teacher (its crop embedding vs the concepts' text embeddings); the student's region
# embedding is aligned to the matched concept (RegionCLIP-style pseudo-label contrastive +
# distillation). Concept pool: the world's class names (the analogue of nouns parsed from captions).
_base_ = ['../clipself/clipself_proposals_synthetic.py']

model = dict(
    vocabulary=dict(classes=dict(dataset='SyntheticWorldPanopticDataset'),
                    templates=['a photo of {article} {}.', 'a close-up photo of {article} {}.', '{article} {}.'],
                    text=dict(arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}})),
    terms=[dict(name='regiontext', type='RegionToTextLoss', loss_weight=1.0, tau=0.01, min_score=0.1,
                student='student.image.regions', teacher='frozen.crops.cls', text='text')])
